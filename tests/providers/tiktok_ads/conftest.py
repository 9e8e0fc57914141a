"""TikTok's adapter against the sandbox's TikTok dialect, alone (no database). The end-to-end
tests use the shared `tether` fixture, whose sandbox stands in for TikTok too."""

import httpx
import pytest

from tests.fixtures.standalone import http, sandbox, sandbox_url, world
from tether.config import ProviderSettings, Settings
from tether.providers.registry import Registry, build_registry
from tether.providers.tiktok_ads import TikTokAdsProvider
from tether.sandbox import SandboxState

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"


def registry_for(http: httpx.AsyncClient, sandbox_url: str, **tiktok: str) -> Registry:
    """Tether's providers with the sandbox standing in for TikTok (and TikTok's settings)."""
    settings = Settings(
        sandbox_url=sandbox_url,
        sandbox_stands_in_for="tiktok_ads",
        providers={"tiktok_ads": ProviderSettings.model_validate(tiktok)} if tiktok else {},
    )
    return build_registry(settings, http)


@pytest.fixture
def tiktok(sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient) -> TikTokAdsProvider:
    provider = registry_for(http, sandbox_url).providers["tiktok_ads"]
    assert isinstance(provider, TikTokAdsProvider)
    return provider


__all__ = ["http", "sandbox", "sandbox_url", "world"]
