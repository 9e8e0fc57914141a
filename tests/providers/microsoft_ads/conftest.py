"""Microsoft Advertising's adapter against the sandbox's Microsoft dialect, alone (no database).
The end-to-end tests use the shared `tether` fixture, whose sandbox stands in for Microsoft too."""

import httpx
import pytest

from tests.fixtures.standalone import http, sandbox, sandbox_url, world
from tether.config import ProviderSettings, Settings
from tether.providers.microsoft_ads import MicrosoftAdsProvider
from tether.providers.registry import Registry, build_registry
from tether.sandbox import SandboxState

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"


def registry_for(http: httpx.AsyncClient, sandbox_url: str, **microsoft: str) -> Registry:
    """Tether's providers with the sandbox standing in for Microsoft (and Microsoft's settings)."""
    settings = Settings(
        sandbox_url=sandbox_url,
        sandbox_stands_in_for="microsoft_ads",
        providers={"microsoft_ads": ProviderSettings.model_validate(microsoft)}
        if microsoft
        else {},
    )
    return build_registry(settings, http)


@pytest.fixture
def microsoft(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> MicrosoftAdsProvider:
    provider = registry_for(http, sandbox_url).providers["microsoft_ads"]
    assert isinstance(provider, MicrosoftAdsProvider)
    return provider


__all__ = ["http", "sandbox", "sandbox_url", "world"]
