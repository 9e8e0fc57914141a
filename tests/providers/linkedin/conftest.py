"""LinkedIn's adapter against the sandbox's LinkedIn dialect, alone (no database). The end-to-end
tests use the shared `tether` fixture, whose sandbox stands in for LinkedIn too."""

import httpx
import pytest

from tests.fixtures.standalone import http, sandbox, sandbox_url, world
from tether.config import ProviderSettings, Settings
from tether.providers.linkedin_ads import LinkedInAdsProvider
from tether.providers.registry import Registry, build_registry
from tether.sandbox import SandboxState

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"


def registry_for(http: httpx.AsyncClient, sandbox_url: str, **linkedin: str) -> Registry:
    """Tether's providers with the sandbox standing in for LinkedIn (and LinkedIn's settings)."""
    settings = Settings(
        sandbox_url=sandbox_url,
        sandbox_stands_in_for="linkedin_ads",
        providers={"linkedin": ProviderSettings.model_validate(linkedin)} if linkedin else {},
    )
    return build_registry(settings, http)


@pytest.fixture
def linkedin(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> LinkedInAdsProvider:
    provider = registry_for(http, sandbox_url).providers["linkedin_ads"]
    assert isinstance(provider, LinkedInAdsProvider)
    return provider


__all__ = ["http", "sandbox", "sandbox_url", "world"]
