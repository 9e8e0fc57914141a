"""Scaling out for real: a Redis broker, two `tether worker` processes, 500 authorizations.

Both workers also run the scheduler, so leadership has to keep one of them acting. Every round
each authorization is probed exactly once, and when both workers race for an authorization
whose token is due, the provider sees one refresh and Tether keeps the newest grant.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from dramatiq import Message
from sqlalchemy import Select, Update, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.builders import create_org
from tests.fixtures.databases import Backend, postgres_backend
from tests.fixtures.fleet import Member, connect_fleet
from tests.fixtures.redis import REDIS_URL
from tests.fixtures.server import serve
from tests.fixtures.workers import Worker, tether_workers, worker_env
from tether import vault
from tether.config import Settings
from tether.db import create_engine, create_sessionmaker, utcnow
from tether.health.schedule import CHECK_ACTOR
from tether.kit.crypto import KeyRing
from tether.models import Authorization, Status
from tether.sandbox import SandboxState, create_app
from tether.worker.broker import create_broker
from tether.worker.queue import BATCH

pytestmark = pytest.mark.postgres

FLEET = 500
QUEUE = "default"  # the queue Tether's actors use
# Generous: a loaded 2-core machine runs PostgreSQL, Redis, the sandbox and both workers.
STARTUP_TIMEOUT = 60.0
ROUND_TIMEOUT = 90.0
SLOW_MS = 300  # the sandbox's delay while two workers race: every refresh holds its lease so long
THREADS = 10  # per worker: the 10 jobs of one round fit in either worker alone
S = TypeVar("S", Select[Any], Update)


@pytest.fixture(scope="module")
def database() -> Iterator[Backend]:
    yield from postgres_backend()


@dataclass
class Scene:
    """The fleet, the sandbox it lives in, the queue and the workers."""

    sessions: async_sessionmaker[AsyncSession]
    sandbox: SandboxState
    organization_id: uuid.UUID
    members: list[Member]
    redis: redis.Redis
    namespace: str
    workers: list[Worker]

    async def eventually(
        self, what: str, done: Callable[[], Awaitable[bool]], within: float = ROUND_TIMEOUT
    ) -> None:
        """Poll until `done`, failing early if a worker died and late if time ran out."""
        deadline = time.monotonic() + within
        while not await done():
            for n, worker in enumerate(self.workers):
                if worker.process.poll() is not None:
                    pytest.fail(f"tether worker {n} exited while waiting for {what}")
            if time.monotonic() > deadline:
                pytest.fail(f"waited {within:.0f} s for {what}")
            await asyncio.sleep(0.2)

    def _ours(self, stmt: S) -> S:
        """Only this scene's authorizations (the database outlives one test)."""
        return stmt.where(Authorization.organization_id == self.organization_id)

    def queue_idle(self) -> bool:
        """Nothing waiting in the queue and nothing fetched but not yet acknowledged."""
        key = f"{self.namespace}:{QUEUE}"
        return self.redis.llen(key) == 0 and self.redis.hlen(f"{key}.msgs") == 0

    def dead_letters(self) -> int:
        return int(self.redis.zcard(f"{self.namespace}:{QUEUE}.XQ"))

    async def make_due(self, *, token_expires_in: float | None = None) -> datetime:
        """Every authorization due for a check now (and its token for a refresh, if asked)."""
        start = utcnow()
        values: dict[str, Any] = {"next_check_at": start}
        if token_expires_in is not None:
            values["expires_at"] = start + timedelta(seconds=token_expires_in)
        async with self.sessions() as session:
            await session.execute(self._ours(update(Authorization)).values(**values))
            await session.commit()
        return start

    async def wait_for_round(self, start: datetime) -> None:
        """Every authorization checked since `start`, none left due or handed out, the queue
        drained; twice in a row, so a job sent just after the first look is seen too."""

        async def settled() -> bool:
            async with self.sessions() as session:
                behind = await session.scalar(
                    self._ours(select(func.count()).select_from(Authorization)).where(
                        (Authorization.last_checked_at.is_(None))
                        | (Authorization.last_checked_at < start)
                        # Handed out (postponed by the scheduler) but not checked yet.
                        | (Authorization.next_check_at < utcnow() + timedelta(minutes=10))
                    )
                )
            return behind == 0 and self.queue_idle()

        async def settled_twice() -> bool:
            if not await settled():
                return False
            await asyncio.sleep(0.5)
            return await settled()

        await self.eventually("the round to finish", settled_twice)

    async def statuses(self) -> dict[str, int]:
        async with self.sessions() as session:
            rows = await session.execute(
                self._ours(select(Authorization.status, func.count())).group_by(
                    Authorization.status
                )
            )
            return {status: count for status, count in rows.all()}

    def calls(self, kind: str) -> dict[str, dict[str, int]]:
        """Each fleet member's calls of one kind, as the sandbox counted them."""
        users = self.sandbox.stats()["users"]
        empty = {"ok": 0, "failed": 0}
        return {m.username: users.get(m.username, {}).get(kind, empty) for m in self.members}

    async def check_round(self) -> None:
        """Make everything due, let the workers run, and require exactly one probe each."""
        self.sandbox.reset_stats()
        start = await self.make_due()
        await self.wait_for_round(start)

        probes = self.calls("me")
        wrong = {user: seen for user, seen in probes.items() if seen != {"ok": 1, "failed": 0}}
        assert not wrong, (
            f"{len(wrong)} of {FLEET} authorizations were not probed exactly once, e.g. "
            f"{dict(list(wrong.items())[:5])}"
        )
        totals = self.sandbox.stats()["totals"]
        assert totals["me"] == {"ok": FLEET, "failed": 0}
        assert totals["token_refresh"] == {"ok": 0, "failed": 0}
        assert await self.statuses() == {Status.ACTIVE: FLEET}

    def enqueue_checks(self, broker_settings: Settings) -> None:
        """A second check job for every authorization, straight onto the queue, in the same
        batches the scheduler makes, so both workers have the same authorizations in hand."""
        bound = create_broker(broker_settings)
        try:
            ids = [str(m.authorization_id) for m in self.members]
            for start in range(0, len(ids), BATCH):
                bound.enqueue(
                    Message(
                        queue_name=QUEUE,
                        actor_name=CHECK_ACTOR,
                        args=(ids[start : start + BATCH],),
                        kwargs={},
                        options={},
                    )
                )
        finally:
            bound.close()

    async def stored_refresh_tokens(self) -> dict[uuid.UUID, str]:
        async with self.sessions() as session:
            stmt = self._ours(select(Authorization.id, Authorization.refresh_token))
            rows = await session.execute(stmt)
            return {i: vault.reveal(token) for i, token in rows.all() if token is not None}


@asynccontextmanager
async def running_scene(database: Backend, namespace: str, folder: Path) -> AsyncIterator[Scene]:
    """A fleet in a sandbox of its own, and two `tether worker` processes looking after it.

    A context manager rather than a fixture, so that a failing test shows the workers' output.
    """
    engine = create_engine(database.url)
    sessions = create_sessionmaker(engine)
    state = SandboxState.seeded()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        with serve(create_app(state)) as sandbox_url:
            org = await create_org(sessions, "http://127.0.0.1")
            await org.api.aclose()
            members = await connect_fleet(
                sessions, state, organization_id=org.id, connector_id=org.admin_id, count=FLEET
            )
            env = worker_env(
                folder,
                database.url,
                namespace,
                sandbox_url,
                # Two workers on one machine: each answers its probes on a free port of its own.
                TETHER_WORKER_PORT="0",
                TETHER_SCHEDULER_TICK_SECONDS="0.2",
                # Long enough that a round is one round: the next regular check is an hour away.
                TETHER_CHECK_INTERVAL_SECONDS="3600",
                TETHER_WORKER_THREADS=str(THREADS),
                # The suite runs two test processes at once (`pytest -n 2`): ten connections a
                # worker leave PostgreSQL's hundred room for everything else running meanwhile.
                TETHER_DB_POOL_SIZE="5",
                TETHER_DB_MAX_OVERFLOW="5",
                # Each worker takes only as many jobs as it runs at once, so the two share the
                # queue instead of the first to look hoarding it (Dramatiq's default is twice).
                dramatiq_queue_prefetch=str(THREADS),
            )
            with tether_workers(2, env, folder) as workers:
                scene = Scene(sessions, state, org.id, members, client, namespace, workers)

                async def running() -> bool:
                    return all("Worker running" in w.output() for w in workers)

                await scene.eventually("both workers to start", running, STARTUP_TIMEOUT)
                yield scene
    finally:
        client.close()
        await engine.dispose()


async def test_two_workers_probe_each_of_500_authorizations_exactly_once_per_round(
    database: Backend, namespace: str, keyring: KeyRing, tmp_path: Path
) -> None:
    async with running_scene(database, namespace, tmp_path) as scene:
        for _ in range(2):
            await scene.check_round()


async def test_two_workers_racing_for_due_tokens_refresh_each_grant_once(
    database: Backend, namespace: str, keyring: KeyRing, tmp_path: Path
) -> None:
    async with running_scene(database, namespace, tmp_path) as scene:
        await _race_for_refreshes(scene)


async def _race_for_refreshes(scene: Scene) -> None:
    state = scene.sandbox
    before = await scene.stored_refresh_tokens()
    # Rotation makes a second refresh harmful (the first one's token is replaced), reuse
    # detection makes it fatal, and a slow token endpoint keeps each refresh (and its lease)
    # in flight long enough for the other worker to arrive.
    state.update_settings(rotate_refresh_tokens=True, reuse_detection=True)
    state.set_faults(slow_ms=SLOW_MS)
    state.reset_stats()

    start = await scene.make_due(token_expires_in=5)
    scene.enqueue_checks(Settings(broker_url=REDIS_URL, broker_namespace=scene.namespace))
    await scene.wait_for_round(start)
    state.clear_faults()

    refreshes = scene.calls("token_refresh")
    wrong = {user: seen for user, seen in refreshes.items() if seen != {"ok": 1, "failed": 0}}
    assert not wrong, (
        f"{len(wrong)} of {FLEET} grants were not refreshed exactly once, e.g. "
        f"{dict(list(wrong.items())[:5])}"
    )
    assert scene.dead_letters() == 0
    # Tether holds each grant's newest refresh token (the one the sandbox issued last).
    stored = await scene.stored_refresh_tokens()
    for member in scene.members:
        (grant,) = state.grants_for(member.username)
        assert grant.revoked_reason is None
        newest = stored[member.authorization_id] == grant.refresh_token  # no token printed
        assert newest, f"{member.username}: Tether does not hold the newest refresh token"
        rotated = stored[member.authorization_id] != before[member.authorization_id]
        assert rotated, f"{member.username}: the refresh token did not change"
    # Each authorization had two checks; one that met the other's lease (the other worker
    # was refreshing) left the probe to it. None met means the workers never really raced.
    probes = scene.calls("me")
    assert all(seen["failed"] == 0 and seen["ok"] in (1, 2) for seen in probes.values())
    assert sum(1 for seen in probes.values() if seen["ok"] == 1) > 0

    # And every grant still works: a last round finds all of them active.
    await scene.check_round()
