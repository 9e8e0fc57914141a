"""Amazon's adapter against the sandbox's Amazon dialect, alone (no database). The end-to-end
tests use the shared `tether` fixture, whose sandbox stands in for Amazon Ads too."""

import httpx
import pytest

from tests.fixtures.standalone import http, sandbox, sandbox_url, world
from tether.config import ProviderSettings, Settings
from tether.providers.amazon_ads import AmazonAdsProvider
from tether.providers.registry import Registry, build_registry
from tether.sandbox import SandboxState
from tether.sandbox.dialects.amazon_api import profile_id

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"


def registry_for(http: httpx.AsyncClient, sandbox_url: str, **amazon: str) -> Registry:
    """Tether's providers with the sandbox standing in for Amazon (and Amazon's settings)."""
    settings = Settings(
        sandbox_url=sandbox_url,
        sandbox_stands_in_for="amazon_ads",
        providers={"amazon_ads": ProviderSettings.model_validate(amazon)} if amazon else {},
    )
    return build_registry(settings, http)


@pytest.fixture
def amazon(sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient) -> AmazonAdsProvider:
    provider = registry_for(http, sandbox_url).providers["amazon_ads"]
    assert isinstance(provider, AmazonAdsProvider)
    return provider


def sandbox_id_of(sandbox: SandboxState, profile: str) -> str:
    """The sandbox's own id of an account Amazon names by profile id."""
    (number,) = [n for n in sandbox.accounts if str(profile_id(n)) == profile]
    return number


__all__ = ["http", "sandbox", "sandbox_url", "world"]
