"""CallRail's adapter against the sandbox's CallRail dialect, alone (no database). The end-to-end
tests use the shared `tether` fixture, whose sandbox stands in for CallRail too."""

import httpx
import pytest

from tests.fixtures.standalone import http, sandbox, sandbox_url, world
from tether.config import Settings
from tether.providers.callrail import CallRailProvider
from tether.providers.registry import build_registry
from tether.sandbox import SandboxState


@pytest.fixture
def callrail(sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient) -> CallRailProvider:
    settings = Settings(sandbox_url=sandbox_url, sandbox_stands_in_for="callrail")
    provider = build_registry(settings, http).providers["callrail"]
    assert isinstance(provider, CallRailProvider)
    return provider


__all__ = ["http", "sandbox", "sandbox_url", "world"]
