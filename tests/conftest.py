"""Every database test runs on SQLite and on PostgreSQL, against Tether served over real HTTP."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.fixtures.broker import stub_broker
from tests.fixtures.builders import Org, create_org
from tests.fixtures.connected import connected, org_with_meta_like_grant
from tests.fixtures.databases import Backend, postgres_backend, sqlite_backend, temporary_folder
from tests.fixtures.keys import TEST_KEYS
from tests.fixtures.redis import namespace
from tests.fixtures.running import STAND_INS, Tether, bound_socket, running
from tests.fixtures.smtp import Mailbox, smtp, smtp_server
from tether import vault
from tether.app import create_app
from tether.config import Settings
from tether.db import Base, create_engine, create_sessionmaker
from tether.health.checks import Engine
from tether.kit.crypto import KeyRing, parse_keys
from tether.providers.registry import build_registry

# Fixtures shared by every folder.
__all__ = [
    "Tether",
    "connected",
    "namespace",
    "org_with_meta_like_grant",
    "smtp",
    "smtp_server",
    "stub_broker",
]


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    yield from temporary_folder()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield sqlite_backend(data_dir)
    else:
        yield from postgres_backend()


@pytest.fixture(scope="session")
def keyring() -> KeyRing:
    ring = KeyRing(parse_keys(TEST_KEYS))
    vault.use_keyring(ring)
    return ring


@pytest.fixture(scope="session")
async def tether(
    backend: Backend, data_dir: Path, keyring: KeyRing, smtp_server: Mailbox
) -> AsyncIterator[Tether]:
    sock = bound_socket()
    port = sock.getsockname()[1]
    settings = Settings(
        data_dir=data_dir,
        database_url=backend.url,
        secret_keys=TEST_KEYS,
        port=port,
        max_body_bytes=64_000,
        background=False,
        provider_timeout_seconds=2.0,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_tls="none",
        smtp_timeout_seconds=5.0,
        sandbox_stands_in_for=STAND_INS,
    )
    engine = create_engine(backend.url)
    with running(create_app(settings), sock):
        yield Tether(backend, f"http://127.0.0.1:{port}", settings, create_sessionmaker(engine))
    await engine.dispose()


@pytest.fixture(autouse=True)
async def _clean(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Each test starts from empty tables and a freshly seeded sandbox."""
    yield
    if "tether" not in request.fixturenames:
        return
    tether: Tether = request.getfixturevalue("tether")
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    # A browser page the test left may still be asking the server for something: emptying the
    # tables can then meet its transaction and be chosen as a deadlock's victim. Try again.
    for attempt in range(5):
        try:
            async with tether.sessions() as session:
                if tether.backend.name == "postgresql":
                    await session.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
                else:
                    for table in tables:
                        await session.execute(text(f"DELETE FROM {table}"))
                await session.commit()
            break
        except DBAPIError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
    async with httpx.AsyncClient() as http:
        await http.post(f"{tether.sandbox_url}/control/reset")


@pytest.fixture
async def engine(tether: Tether) -> AsyncIterator[Engine]:
    """What a worker runs jobs with, on the test database and the running sandbox."""
    async with httpx.AsyncClient(timeout=30) as http:
        yield Engine(tether.sessions, build_registry(tether.settings, http), tether.settings)


@pytest.fixture
async def org(tether: Tether) -> AsyncIterator[Org]:
    created = await create_org(tether.sessions, tether.base_url)
    yield created
    await created.api.aclose()


@pytest.fixture
async def other_org(tether: Tether) -> AsyncIterator[Org]:
    created = await create_org(tether.sessions, tether.base_url)
    yield created
    await created.api.aclose()
