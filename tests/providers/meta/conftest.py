"""Meta's adapter against the sandbox's Meta dialect, alone (no database). The end-to-end tests
use the shared `tether` fixture, whose sandbox stands in for Meta too."""

import httpx
import pytest

from tests.fixtures.standalone import http, sandbox, sandbox_url, world
from tether.config import ProviderSettings, Settings
from tether.providers.meta_ads import MetaAdsProvider
from tether.providers.registry import Registry, build_registry
from tether.sandbox import SandboxState

STANDS_IN_FOR = "meta_ads,meta_ads_system_user"
REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"


def registry_for(http: httpx.AsyncClient, sandbox_url: str, **meta: str) -> Registry:
    """Tether's providers with the sandbox standing in for Meta (and Meta's settings)."""
    settings = Settings(
        sandbox_url=f"{sandbox_url}",
        sandbox_stands_in_for=STANDS_IN_FOR,
        providers={"meta": ProviderSettings.model_validate(meta)} if meta else {},
    )
    return build_registry(settings, http)


@pytest.fixture
def meta(sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient) -> MetaAdsProvider:
    provider = registry_for(http, sandbox_url).providers["meta_ads"]
    assert isinstance(provider, MetaAdsProvider)
    return provider


@pytest.fixture
def system_user(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> MetaAdsProvider:
    provider = registry_for(http, sandbox_url).providers["meta_ads_system_user"]
    assert isinstance(provider, MetaAdsProvider)
    return provider


__all__ = ["http", "sandbox", "sandbox_url", "world"]
