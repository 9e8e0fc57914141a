"""Semrush's adapter against the sandbox's Semrush dialect, alone (no database). The end-to-end
tests use the shared `tether` fixture, whose sandbox stands in for Semrush too."""

import httpx
import pytest

from tests.fixtures.standalone import http, sandbox, sandbox_url, world
from tether.config import Settings
from tether.providers.registry import build_registry
from tether.providers.semrush import SemrushProvider
from tether.sandbox import SandboxState


@pytest.fixture
def semrush(sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient) -> SemrushProvider:
    settings = Settings(sandbox_url=sandbox_url, sandbox_stands_in_for="semrush")
    provider = build_registry(settings, http).providers["semrush"]
    assert isinstance(provider, SemrushProvider)
    return provider


__all__ = ["http", "sandbox", "sandbox_url", "world"]
