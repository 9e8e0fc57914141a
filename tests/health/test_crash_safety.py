"""A worker killed (SIGKILL) at random points of refreshes with rotation never loses a grant.

With rotation, a refresh answers a new refresh token and the one presented stays usable only
until its successor is used (the sandbox's grace, as on platforms that rotate): a worker killed
before it stored the new token can still refresh with the old one. The stand-in worker
(`refresh_loop`) probes with the stored access token after every refresh, as a check does,
which tells the sandbox that the newest refresh token is held and ends the grace of the one
before; reuse detection is on, so presenting a replaced refresh token revokes the grant. So the
database must hold, at every instant a kill can hit, the grant's newest refresh token or the one
in grace. Had Tether stored the rotated token late (after the new access token was used, or in
a later transaction than the one that follows the provider's answer), a kill in between would
leave a replaced token behind: the next refresh would revoke the grant and this test would fail
on it, in the iteration it happened.
"""

import asyncio
import os
import random
import secrets
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import TEST_KEYS
from tests.fixtures.builders import create_org
from tests.fixtures.databases import Backend, postgres_backend, sqlite_backend
from tests.fixtures.fleet import Member, connect_fleet
from tests.fixtures.server import serve
from tether import vault
from tether.config import Settings
from tether.db import create_engine, create_sessionmaker, utcnow
from tether.health import checks
from tether.health.refresh import Refresh, refresh
from tether.kit.crypto import KeyRing
from tether.models import Authorization, Status
from tether.sandbox import SandboxState, create_app
from tether.worker.runtime import Runtime, opened

ROOT = Path(__file__).resolve().parents[2]
# The refresh code is the same on both; PostgreSQL (where workers are processes of their own
# in production) adds a shorter run for its commits and locks, so the suite stays quick.
ITERATIONS = {"sqlite": 30, "postgresql": 10}
AUTHORIZATIONS = 5
SLOW_MS = 100  # every sandbox call, so a refresh is in flight long enough to be killed there
LEASE_SECONDS = 1  # a killed worker's refresh lease lapses this soon
MAX_KILL_DELAY = 0.6  # seconds of work before the kill: a few refresh-and-check cycles
# On a loaded machine the kills of a run may all miss the window this test is about (between
# the sandbox rotating a grant and Tether storing it): it then goes on, up to this many times
# its iterations, until some have landed there, so the test never passes without testing.
EXTRA_ROUNDS = 3
# Generous: a loaded 2-core machine runs the sandbox, the database and the stand-in worker.
READY_TIMEOUT = 60.0
SETTLE_TIMEOUT = LEASE_SECONDS + 60.0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield sqlite_backend(tmp_path)
    else:
        yield from postgres_backend()


@dataclass
class Crashes:
    """What the test did and saw, for its assertions and for the report of a failure."""

    seed: int
    folder: Path
    iteration: int = 0
    in_grace: int = 0  # authorizations whose refreshed grant a kill kept from the database
    held_leases: int = 0  # iterations whose kill left a refresh lease behind
    logs: list[Path] = field(default_factory=list)

    def report(self) -> str:
        lines = [
            f"seed {self.seed} (TETHER_TEST_CRASH_SEED replays the kill delays), "
            f"iteration {self.iteration}"
        ]
        for log in self.logs[-3:]:
            text = log.read_text(errors="replace") if log.exists() else ""
            lines.append(f"----- {log.name} -----\n{text[-5_000:]}")
        return "\n".join(lines)


@dataclass
class StandIn:
    """One `refresh_loop` process, started ahead of its turn."""

    process: asyncio.subprocess.Process
    log: Path

    async def start(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        await self.process.stdin.drain()

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()


async def _spawn(ids: list[uuid.UUID], env: dict[str, str], log: Path) -> StandIn:
    with log.open("wb") as errors:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.health.refresh_loop",
            *(str(i) for i in ids),
            env=env,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
    return StandIn(process, log)


async def _ready(stand_in: StandIn) -> None:
    assert stand_in.process.stdout is not None
    try:
        line = await asyncio.wait_for(stand_in.process.stdout.readline(), READY_TIMEOUT)
    except TimeoutError:
        line = b""
    if line != b"ready\n":
        await stand_in.kill()
        pytest.fail(f"the stand-in worker did not start (exit code {stand_in.process.returncode})")


class InFlight:
    """Counts the requests the sandbox is still answering, those of a killed client too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # the lifespan lasts as long as the server
            await self.app(scope, receive, send)
            return
        self.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.count -= 1


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    sandbox: SandboxState
    sandbox_url: str
    in_flight: InFlight
    members: list[Member]

    @property
    def ids(self) -> list[uuid.UUID]:
        return [m.authorization_id for m in self.members]

    async def settled(self) -> bool:
        """No refresh lease held any more, and every request the killed worker had sent
        answered: a late answer would rotate a grant behind the test's back."""
        return await self.leases_lapsed() and self.in_flight.count == 0

    async def leases_lapsed(self) -> bool:
        async with self.sessions() as session:
            leases = (
                await session.scalars(
                    select(Authorization.refresh_lease_until).where(Authorization.id.in_(self.ids))
                )
            ).all()
        now = utcnow()
        return all(until is None or until < now for until in leases)

    async def any_lease_held(self) -> bool:
        return not await self.leases_lapsed()

    async def stored_refresh_tokens(self) -> dict[uuid.UUID, str]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(Authorization.id, Authorization.refresh_token).where(
                    Authorization.id.in_(self.ids)
                )
            )
            return {i: vault.reveal(token) for i, token in rows.all() if token is not None}

    async def statuses(self) -> dict[str, int]:
        async with self.sessions() as session:
            statuses = (
                await session.scalars(
                    select(Authorization.status).where(Authorization.id.in_(self.ids))
                )
            ).all()
        return {status: statuses.count(status) for status in set(statuses)}


@asynccontextmanager
async def sandbox_world(database: Backend) -> AsyncIterator[World]:
    """Rotating grants of a few sandbox users, as Tether authorizations."""
    engine = create_engine(database.url)
    sessions = create_sessionmaker(engine)
    state = SandboxState.seeded()
    state.update_settings(rotate_refresh_tokens=True, reuse_detection=True)
    in_flight = InFlight(create_app(state))
    try:
        with serve(in_flight) as sandbox_url:
            org = await create_org(sessions, "http://127.0.0.1")
            await org.api.aclose()
            members = await connect_fleet(
                sessions,
                state,
                organization_id=org.id,
                connector_id=org.admin_id,
                count=AUTHORIZATIONS,
            )
            state.set_faults(slow_ms=SLOW_MS)
            yield World(sessions, state, sandbox_url, in_flight, members)
    finally:
        await engine.dispose()


async def test_a_worker_killed_at_random_points_of_rotating_refreshes_never_loses_a_grant(
    database: Backend, keyring: KeyRing, tmp_path: Path
) -> None:
    seed = int(os.environ.get("TETHER_TEST_CRASH_SEED") or secrets.randbits(32))
    crashes = Crashes(seed, tmp_path)
    try:
        async with sandbox_world(database) as world:
            await _crash_many_times(world, database, crashes)
    except BaseException:
        sys.stderr.write(crashes.report() + "\n")
        raise


async def _crash_many_times(world: World, database: Backend, crashes: Crashes) -> None:
    rng = random.Random(crashes.seed)
    settings = Settings(
        data_dir=crashes.folder,
        database_url=database.url,
        secret_keys=TEST_KEYS,
        sandbox_url=world.sandbox_url,
        refresh_lease_seconds=LEASE_SECONDS,
        provider_timeout_seconds=10.0,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env.update(
        PYTHONUNBUFFERED="1",
        TETHER_DATA_DIR=str(crashes.folder),
        TETHER_DATABASE_URL=database.url,
        TETHER_SECRET_KEYS=TEST_KEYS,
        TETHER_SANDBOX_URL=world.sandbox_url,
        TETHER_REFRESH_LEASE_SECONDS=str(LEASE_SECONDS),
        TETHER_PROVIDER_TIMEOUT_SECONDS="10",
    )

    async def spawn(n: int) -> StandIn:
        log = crashes.folder / f"stand-in-{n}.log"
        crashes.logs.append(log)
        return await _spawn(world.ids, env, log)

    upcoming = await spawn(0)
    try:
        async with opened(settings) as runtime:
            for n in range(ITERATIONS[database.name] * EXTRA_ROUNDS):
                if n >= ITERATIONS[database.name] and crashes.in_grace and crashes.held_leases:
                    break
                crashes.iteration = n
                current = upcoming
                await _ready(current)
                await current.start()
                # The next one starts up (imports, settings) while this one works and dies.
                upcoming = await spawn(n + 1)
                await asyncio.sleep(rng.uniform(0, MAX_KILL_DELAY))
                await current.kill()
                await _recover(world, runtime, crashes)
    finally:
        await upcoming.kill()

    assert await world.statuses() == {Status.ACTIVE: AUTHORIZATIONS}
    stats = world.sandbox.stats()
    assert stats["totals"]["token_refresh"]["failed"] == 0  # callers unknown to it included
    for member in world.members:
        calls = stats["users"][member.username]
        assert calls["token_refresh"]["failed"] == 0, member.username
        assert calls["me"]["failed"] == 0, member.username
        (grant,) = world.sandbox.grants_for(member.username)
        assert grant.revoked_reason is None
    # The kills did land between the sandbox rotating a grant and Tether storing the result.
    assert crashes.in_grace > 0
    assert crashes.held_leases > 0


async def _recover(world: World, runtime: Runtime, crashes: Crashes) -> None:
    """After a kill: wait out any lease it left, see that Tether holds each grant's newest
    refresh token or the one in grace, then refresh and check every authorization."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    if await world.any_lease_held():
        crashes.held_leases += 1
    while not await world.settled():
        if time.monotonic() > deadline:
            pytest.fail(f"a lease or a request was still pending {SETTLE_TIMEOUT:.0f} s on")
        await asyncio.sleep(0.05)

    stored = await world.stored_refresh_tokens()
    for member in world.members:
        (grant,) = world.sandbox.grants_for(member.username)
        held = stored[member.authorization_id]
        if held == grant.previous_refresh_token:
            crashes.in_grace += 1  # the sandbox rotated; the killed worker never stored it
            continue
        newest = held == grant.refresh_token  # compared apart, so no token is printed
        assert newest, f"{member.username}: Tether holds a refresh token the sandbox replaced"

    async def one(authorization_id: uuid.UUID) -> str | None:
        result = await refresh(
            runtime.sessions, runtime.registry, runtime.settings, authorization_id, force=True
        )
        assert result.outcome in (Refresh.REFRESHED, Refresh.NOT_NEEDED), result.failure
        return await checks.check(runtime.health, authorization_id)

    statuses = await asyncio.gather(*(one(i) for i in world.ids))
    assert statuses == [Status.ACTIVE] * AUTHORIZATIONS

    stored = await world.stored_refresh_tokens()
    for member in world.members:
        (grant,) = world.sandbox.grants_for(member.username)
        newest = stored[member.authorization_id] == grant.refresh_token
        assert newest, f"{member.username}: the recovered refresh token is not the newest"
        assert grant.previous_refresh_token is None  # the probe closed the grace
