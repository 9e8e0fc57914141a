"""The sync as the worker runs it: an engine on the test database and the running sandbox."""

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fixtures.connected import Connected
from tests.fixtures.running import Tether
from tether.health.checks import Engine
from tether.providers.registry import build_registry

__all__ = ["Connected"]


@pytest.fixture
async def engine(tether: Tether) -> AsyncIterator[Engine]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield Engine(tether.sessions, build_registry(tether.settings, http), tether.settings)
