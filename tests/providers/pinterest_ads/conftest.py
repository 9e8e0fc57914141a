"""Pinterest's adapter against the sandbox's Pinterest dialect, alone (no database). The
end-to-end tests use the shared `tether` fixture, whose sandbox stands in for Pinterest too."""

import httpx
import pytest

from tests.fixtures.standalone import http, sandbox, sandbox_url, world
from tether.config import ProviderSettings, Settings
from tether.providers.pinterest_ads import PinterestAdsProvider
from tether.providers.registry import Registry, build_registry
from tether.sandbox import SandboxState

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"


def registry_for(http: httpx.AsyncClient, sandbox_url: str, **pinterest: str) -> Registry:
    """Tether's providers with the sandbox standing in for Pinterest (and Pinterest's settings)."""
    settings = Settings(
        sandbox_url=sandbox_url,
        sandbox_stands_in_for="pinterest_ads",
        providers={"pinterest_ads": ProviderSettings.model_validate(pinterest)}
        if pinterest
        else {},
    )
    return build_registry(settings, http)


@pytest.fixture
def pinterest(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> PinterestAdsProvider:
    provider = registry_for(http, sandbox_url).providers["pinterest_ads"]
    assert isinstance(provider, PinterestAdsProvider)
    return provider


__all__ = ["http", "sandbox", "sandbox_url", "world"]
