"""Snapchat's adapter against the sandbox's Snapchat dialect, alone (no database). The end-to-end
tests use the shared `tether` fixture, whose sandbox stands in for Snapchat too."""

import httpx
import pytest

from tests.fixtures.standalone import http, sandbox, sandbox_url, world
from tether.config import ProviderSettings, Settings
from tether.providers.registry import Registry, build_registry
from tether.providers.snapchat_ads import SnapchatAdsProvider
from tether.sandbox import SandboxState
from tether.sandbox.dialects.snapchat_api import snap_id

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"


def registry_for(http: httpx.AsyncClient, sandbox_url: str, **snapchat: str) -> Registry:
    """Tether's providers with the sandbox standing in for Snapchat (and Snapchat's settings)."""
    settings = Settings(
        sandbox_url=sandbox_url,
        sandbox_stands_in_for="snapchat_ads",
        providers={"snapchat": ProviderSettings.model_validate(snapchat)} if snapchat else {},
    )
    return build_registry(settings, http)


@pytest.fixture
def snapchat(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> SnapchatAdsProvider:
    provider = registry_for(http, sandbox_url).providers["snapchat_ads"]
    assert isinstance(provider, SnapchatAdsProvider)
    return provider


def sandbox_id_of(sandbox: SandboxState, snap_account_id: str) -> str:
    """The sandbox's own id of an ad account Snap names by UUID."""
    (number,) = [n for n in sandbox.accounts if snap_id("adaccount", n) == snap_account_id]
    return number


__all__ = ["http", "sandbox", "sandbox_url", "world"]
