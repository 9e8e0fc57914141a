"""PostgreSQL's pooled connections: one the server dropped while it sat idle is replaced before a
request meets it, one in steady use costs no round trip to check, and a request that meets a
dropped one is asked to try again."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.databases import POSTGRES_ADMIN_URL, empty_postgres
from tests.fixtures.keys import TEST_KEYS
from tests.fixtures.running import bound_socket, running
from tether import db, errors_http, migrate
from tether.app import create_app
from tether.config import Settings


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with empty_postgres("tether_pool") as url:
        yield url


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(pid: int) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        for _ in range(100):  # the backend exits a moment after it is told to
            if not await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid=$1", pid):
                return
            await asyncio.sleep(0.02)
    finally:
        await admin.close()


async def _terminate_all(url: str) -> None:
    """Every connection to the database of `url`, as a restart of the server would."""
    name = url.rpartition("/")[2]
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        pids = await admin.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name)
    finally:
        await admin.close()
    assert pids, "Tether held no connection to drop"
    for row in pids:
        await _terminate(row["pid"])


async def test_a_connection_dropped_while_idle_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every pooled connection is "idle"
    engine = db.create_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        dropped = await _backend_pid(engine)
        await _terminate(dropped)  # as a server restart or an idle timeout would

        assert await _backend_pid(engine) != dropped
    finally:
        await engine.dispose()


async def test_a_connection_in_steady_use_is_not_pinged_so_a_fresh_drop_fails_once(
    postgres_url: str,
) -> None:
    engine = db.create_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        dropped = await _backend_pid(engine)
        await _terminate(dropped)

        # Used a moment ago, the connection is handed out without a round trip: the statement
        # meets the drop, and the pool replaces the connection for the next one.
        with pytest.raises(DBAPIError) as raised:
            await _backend_pid(engine)
        assert raised.value.connection_invalidated
        assert await _backend_pid(engine) != dropped
    finally:
        await engine.dispose()


@pytest.fixture
def migrated_url(postgres_url: str) -> str:
    migrate.upgrade(postgres_url)
    return postgres_url


async def test_a_request_that_meets_a_dropped_connection_is_asked_to_retry(
    migrated_url: str, data_dir: Path
) -> None:
    sock = bound_socket()
    settings = Settings(
        data_dir=data_dir,
        database_url=migrated_url,
        secret_keys=TEST_KEYS,
        background=False,
        mount_sandbox=False,
        seed_demo=False,
    )
    with running(create_app(settings), sock):
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        unknown = {"Authorization": "Bearer tth_not-a-token"}
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/api/v1/tokens", headers=unknown)).status_code == 401
            await _terminate_all(migrated_url)  # a database restart

            refused = await client.get("/api/v1/tokens", headers=unknown)
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            assert len(refused.headers.get_list("X-Request-Id")) == 1
            assert refused.json()["error"] == {
                "code": "database_unavailable",
                "message": "Tether lost its connection to its database for a moment. Try again.",
            }
            # The pool replaced its connections: the same request is answered.
            assert (await client.get("/api/v1/tokens", headers=unknown)).status_code == 401


async def test_any_other_database_error_is_an_internal_error_that_tells_nothing() -> None:
    app = FastAPI()
    errors_http.install(app)

    @app.get("/fails")
    async def fails() -> None:
        raise DBAPIError("SELECT secret_column", {}, Exception("relation secret_table is gone"))

    sock = bound_socket()
    with running(app, sock):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}") as c:
            answered = await c.get("/fails")
    assert answered.status_code == 500
    assert answered.json()["error"]["code"] == "internal"
    assert "secret" not in answered.text
    assert "Retry-After" not in answered.headers
