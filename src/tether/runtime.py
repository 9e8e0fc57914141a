"""What jobs need at run time, opened once per event loop: the database and the adapters."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tether import vault
from tether.config import Settings
from tether.db import create_engine, create_sessionmaker
from tether.health.checks import Engine
from tether.providers import custom
from tether.providers.registry import Registry, build_registry


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    registry: Registry

    @property
    def health(self) -> Engine:
        return Engine(self.sessions, self.registry, self.settings)

    async def close(self) -> None:
        await self.http.aclose()
        await self.engine.dispose()


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = open_runtime(settings)
    try:
        yield runtime
    finally:
        await runtime.close()


def open_runtime(settings: Settings) -> Runtime:
    # The operator's own providers, read first: a bad file raises ProviderFileError naming its
    # line and field (the CLI reads it before anything else, so `tether serve` stops with it).
    declared = custom.declared(settings)
    vault.load_keyring(settings)
    engine = create_engine(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    http = httpx.AsyncClient(timeout=httpx.Timeout(settings.provider_timeout_seconds, connect=5.0))
    registry = build_registry(settings, http, custom=declared)
    return Runtime(settings, engine, create_sessionmaker(engine), http, registry)


_per_loop: dict[asyncio.AbstractEventLoop, Runtime] = {}
_settings: Settings | None = None


def configure(settings: Settings) -> None:
    """The settings jobs run with in this process."""
    global _settings
    _settings = settings


def current() -> Runtime:
    """This event loop's runtime (a worker's loop lives as long as the worker)."""
    loop = asyncio.get_running_loop()
    runtime = _per_loop.get(loop)
    if runtime is None:
        runtime = _per_loop[loop] = open_runtime(_settings or Settings())
    return runtime


async def close_current() -> None:
    """Close this event loop's runtime, if jobs opened one: a worker calls it on its way out, on
    the loop the runtime's pools belong to."""
    runtime = _per_loop.pop(asyncio.get_running_loop(), None)
    if runtime is not None:
        await runtime.close()
