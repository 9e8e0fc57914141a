"""docs/providers.md tells an operator how to set up every built-in provider: it must name what
each definition actually asks for, so the two cannot drift apart."""

from pathlib import Path

import pytest

from tether.providers.catalog import BUILTIN
from tether.providers.definition import ProviderDefinition

DOC = (Path(__file__).parents[1] / "docs" / "providers.md").read_text(encoding="utf-8")
PLATFORMS = [d for d, _ in BUILTIN if not d.key.startswith("sandbox")]


@pytest.mark.parametrize("definition", PLATFORMS, ids=lambda d: d.key)
def test_the_provider_guide_names_what_each_provider_needs(definition: ProviderDefinition) -> None:
    settings = definition.settings_keys[-1].upper()
    assert f"`{definition.key}`" in DOC
    if definition.oauth is not None:
        assert f"TETHER_PROVIDERS__{settings}__CLIENT_ID" in DOC
        assert f"TETHER_PROVIDERS__{settings}__CLIENT_SECRET" in DOC
        for scope in definition.oauth.scopes:
            assert f"`{scope}`" in DOC or scope in ("openid", "email", "profile")
    for name in definition.setting_headers.values():
        assert f"TETHER_PROVIDERS__{settings}__{name.upper()}" in DOC
    for base in definition.bases:
        assert f"`{base.upper()}`" in DOC
