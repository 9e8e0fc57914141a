"""X's adapter against the sandbox's X dialect, alone (no database). The end-to-end tests use the
shared `tether` fixture, whose sandbox stands in for X too."""

import httpx
import pytest

from tests.fixtures.standalone import http, sandbox, sandbox_url, world
from tether.config import ProviderSettings, Settings
from tether.providers.registry import Registry, build_registry
from tether.providers.x_ads import XAdsProvider
from tether.sandbox import SandboxState
from tether.sandbox.dialects.x_api import x_id

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"


def registry_for(http: httpx.AsyncClient, sandbox_url: str, **x: str) -> Registry:
    """Tether's providers with the sandbox standing in for X (and X's settings)."""
    settings = Settings(
        sandbox_url=sandbox_url,
        sandbox_stands_in_for="x_ads",
        providers={"x_ads": ProviderSettings.model_validate(x)} if x else {},
    )
    return build_registry(settings, http)


@pytest.fixture
def x(sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient) -> XAdsProvider:
    provider = registry_for(http, sandbox_url).providers["x_ads"]
    assert isinstance(provider, XAdsProvider)
    return provider


def sandbox_id_of(sandbox: SandboxState, x_account_id: str) -> str:
    """The sandbox's own id of an ad account X names by its base-36 id."""
    (number,) = [n for n in sandbox.accounts if x_id("account", n) == x_account_id]
    return number


__all__ = ["http", "sandbox", "sandbox_url", "world"]
