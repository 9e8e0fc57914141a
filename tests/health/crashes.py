"""Killing a worker (SIGKILL) at random points of refreshes with rotation, and what it leaves.

Shared by the crash test (tests/health/test_crash_safety.py: a few kills, asserted) and the
reliability benchmark (bench/reliability.py: a thousand, counted). A stand-in worker
(`refresh_loop`) refreshes (forced) and checks a few authorizations of sandbox users whose
grants rotate, with reuse detection on; it is killed after a random delay, then `Crasher`
waits out any lease it left, looks at what the database holds, and refreshes and checks every
authorization itself, counting what went wrong rather than stopping at it.

With rotation, a refresh answers a new refresh token and the one presented stays usable only
until its successor is used (the sandbox's grace, as on platforms that rotate): a worker killed
before it stored the new token can still refresh with the old one. The probe after a refresh
tells the sandbox that the newest refresh token is held and ends the grace of the one before;
presenting a replaced refresh token revokes the grant. So the database must hold, at every
instant a kill can hit, the grant's newest refresh token or the one in grace.
"""

import asyncio
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.fixtures.builders import create_org
from tests.fixtures.fleet import Member, connect_fleet
from tests.fixtures.server import serve
from tether import vault
from tether.config import Settings
from tether.db import create_engine, create_sessionmaker, utcnow
from tether.health import checks
from tether.health.refresh import Refresh, refresh
from tether.models import Authorization, Status
from tether.runtime import Runtime, opened
from tether.sandbox import SandboxState, create_app

ROOT = Path(__file__).resolve().parents[2]
AUTHORIZATIONS = 5
SLOW_MS = 100  # every sandbox call, so a refresh is in flight long enough to be killed there
LEASE_SECONDS = 1  # a killed worker's refresh lease lapses this soon
MAX_KILL_DELAY = 0.6  # seconds of work before the kill: a few refresh-and-check cycles
# Generous: a loaded 2-core machine runs the sandbox, the database and the stand-in worker.
READY_TIMEOUT = 60.0
SETTLE_TIMEOUT = LEASE_SECONDS + 60.0


class CrashRigError(RuntimeError):
    """The rig itself failed (a stand-in that would not start, a lease that never lapsed):
    nothing is known about Tether from that kill."""


@dataclass
class Recovery:
    """What one kill left, seen once the lease lapsed and every request was answered."""

    held_lease: bool = False  # the kill left a refresh lease behind
    in_grace: int = 0  # grants the sandbox rotated that the killed worker never stored
    stale: list[str] = field(default_factory=list)  # hold a replaced refresh token: lost
    failed: list[str] = field(default_factory=list)  # the refresh after the kill failed
    not_active: list[str] = field(default_factory=list)  # not active after the check
    not_newest: list[str] = field(default_factory=list)  # the recovered token is not the newest
    grace_open: list[str] = field(default_factory=list)  # the probe did not close the grace

    def problems(self) -> list[str]:
        found = [
            ("holds a refresh token the sandbox replaced", self.stale),
            ("could not be refreshed after the kill", self.failed),
            ("is not active after the kill", self.not_active),
            ("holds a recovered refresh token that is not the newest", self.not_newest),
            ("kept a replaced refresh token in grace after the probe", self.grace_open),
        ]
        return [f"{', '.join(who)}: {what}" for what, who in found if who]


@dataclass
class Tally:
    """Every kill's findings, added up."""

    kills: int = 0
    in_window: int = 0  # kills that landed between the sandbox rotating and Tether storing
    in_grace: int = 0
    held_leases: int = 0
    stale: int = 0
    failed: int = 0
    not_active: int = 0
    not_newest: int = 0
    first_problem: str | None = None  # the first kill that found one, and what it found

    def add(self, recovery: Recovery) -> None:
        self.kills += 1
        self.in_window += bool(recovery.in_grace)
        self.in_grace += recovery.in_grace
        self.held_leases += recovery.held_lease
        self.stale += len(recovery.stale)
        self.failed += len(recovery.failed)
        self.not_active += len(recovery.not_active)
        self.not_newest += len(recovery.not_newest) + len(recovery.grace_open)
        if self.first_problem is None and recovery.problems():
            self.first_problem = f"kill {self.kills}: " + "; ".join(recovery.problems())


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

    async def ready(self) -> None:
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), READY_TIMEOUT)
        except TimeoutError:
            line = b""
        if line != b"ready\n":
            await self.kill()
            raise CrashRigError(
                f"the stand-in worker did not start (exit code {self.process.returncode})"
            )


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
        answered: a late answer would rotate a grant behind Tether's back."""
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

    def revoked_grants(self) -> int:
        return sum(
            grant.revoked_reason is not None
            for member in self.members
            for grant in self.sandbox.grants_for(member.username)
        )

    def failed_calls(self, kind: str) -> int:
        """Calls of `kind` (token_refresh, me) the sandbox answered with an error, any caller's."""
        return int(self.sandbox.stats()["totals"].get(kind, {}).get("failed", 0))


@asynccontextmanager
async def sandbox_world(database_url: str, count: int = AUTHORIZATIONS) -> AsyncIterator[World]:
    """Rotating grants of `count` sandbox users, as Tether authorizations in `database_url`."""
    engine = create_engine(database_url)
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
                count=count,
            )
            state.set_faults(slow_ms=SLOW_MS)
            yield World(sessions, state, sandbox_url, in_flight, members)
    finally:
        await engine.dispose()


class Crasher:
    """Kills stand-in workers one after the other; each is started while the one before works,
    so that its start-up (imports, settings) does not count in the kill's timing."""

    def __init__(
        self, world: World, database_url: str, secret_keys: str, folder: Path, seed: int
    ) -> None:
        self.world = world
        self.folder = folder
        self.rng = random.Random(seed)
        self.logs: list[Path] = []
        self.settings = Settings(
            data_dir=folder,
            database_url=database_url,
            secret_keys=secret_keys,
            sandbox_url=world.sandbox_url,
            refresh_lease_seconds=LEASE_SECONDS,
            provider_timeout_seconds=10.0,
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
        self.env.update(
            PYTHONUNBUFFERED="1",
            TETHER_DATA_DIR=str(folder),
            TETHER_DATABASE_URL=database_url,
            TETHER_SECRET_KEYS=secret_keys,
            TETHER_SANDBOX_URL=world.sandbox_url,
            TETHER_REFRESH_LEASE_SECONDS=str(LEASE_SECONDS),
            TETHER_PROVIDER_TIMEOUT_SECONDS="10",
        )
        self._spawned = 0
        self._upcoming: StandIn | None = None
        self._runtime: Runtime | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator["Crasher"]:
        async with AsyncExitStack() as stack:
            self._runtime = await stack.enter_async_context(opened(self.settings))
            self._upcoming = await self._spawn()
            try:
                yield self
            finally:
                await self._upcoming.kill()

    async def _spawn(self) -> StandIn:
        log = self.folder / f"stand-in-{self._spawned}.log"
        self._spawned += 1
        self.logs.append(log)
        for old in self.logs[:-3]:  # only the last few are ever shown
            old.unlink(missing_ok=True)
        del self.logs[:-3]
        with log.open("wb") as errors:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.health.refresh_loop",
                *(str(i) for i in self.world.ids),
                env=self.env,
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
            )
        return StandIn(process, log)

    async def kill_once(self) -> Recovery:
        """Start the stand-in waiting, let it work a random while, kill it, and recover."""
        assert self._upcoming is not None, "use within running()"
        current = self._upcoming
        await current.ready()
        await current.start()
        self._upcoming = await self._spawn()
        await asyncio.sleep(self.rng.uniform(0, MAX_KILL_DELAY))
        await current.kill()
        return await self._recover()

    async def _recover(self) -> Recovery:
        """Wait out any lease the kill left, see that Tether holds each grant's newest refresh
        token or the one in grace, then refresh and check every authorization."""
        world, runtime, found = self.world, self._runtime, Recovery()
        assert runtime is not None
        deadline = time.monotonic() + SETTLE_TIMEOUT
        found.held_lease = not await world.leases_lapsed()
        while not await world.settled():
            if time.monotonic() > deadline:
                raise CrashRigError(f"a lease or a request was pending {SETTLE_TIMEOUT:.0f} s on")
            await asyncio.sleep(0.05)

        stored = await world.stored_refresh_tokens()
        for member in world.members:
            (grant,) = world.sandbox.grants_for(member.username)
            held = stored.get(member.authorization_id)
            if held is not None and held == grant.previous_refresh_token:
                found.in_grace += 1  # the sandbox rotated; the killed worker never stored it
            elif held is None or held != grant.refresh_token:  # compared, never printed
                found.stale.append(member.username)

        async def one(member: Member) -> None:
            result = await refresh(
                runtime.sessions,
                runtime.registry,
                runtime.settings,
                member.authorization_id,
                force=True,
            )
            if result.outcome not in (Refresh.REFRESHED, Refresh.NOT_NEEDED):
                found.failed.append(member.username)
            status = await checks.check(runtime.health, member.authorization_id)
            if status != Status.ACTIVE:
                found.not_active.append(member.username)

        await asyncio.gather(*(one(m) for m in world.members))

        stored = await world.stored_refresh_tokens()
        for member in world.members:
            (grant,) = world.sandbox.grants_for(member.username)
            if stored.get(member.authorization_id) != grant.refresh_token:
                found.not_newest.append(member.username)
            if grant.previous_refresh_token is not None:
                found.grace_open.append(member.username)
        return found

    def logs_tail(self, chars: int = 5_000) -> str:
        lines = []
        for log in self.logs:
            text = log.read_text(errors="replace") if log.exists() else ""
            lines.append(f"----- {log.name} -----\n{text[-chars:]}")
        return "\n".join(lines)
