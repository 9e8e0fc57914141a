"""Provider calls share a concurrency budget per authorization across workers (on Redis)."""

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
import redis

from tests.fixtures.connected import Connected
from tests.fixtures.redis import reachable
from tether.config import Settings
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import Connection
from tether.providers.base import DailyMetrics
from tether.sync import limits, service

REDIS_URL = os.environ.get("TETHER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def namespace() -> Iterator[str]:
    """A Redis key prefix of the test's own, emptied afterwards."""
    name = f"tether_test_limits_{uuid.uuid4().hex}"
    client = reachable(REDIS_URL)
    yield name
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_settings(connected: Connected, namespace: str) -> Settings:
    return connected.tether.settings.model_copy(
        update={
            "broker_url": REDIS_URL,
            "broker_namespace": namespace,
            "sync_authorization_concurrency": 1,
        }
    )


@pytest.fixture
def budgets(namespace: str) -> Settings:
    """Budgets on Redis with a short call time-out, for the slots' lives: one call at a time
    per authorization, three per provider."""
    return Settings(
        broker_url=REDIS_URL,
        broker_namespace=namespace,
        provider_timeout_seconds=0.5,
        sync_authorization_concurrency=1,
        sync_provider_concurrency=3,
    )


class InFlight:
    """Wraps an adapter's fetch_daily and records the most calls in flight at once."""

    def __init__(self) -> None:
        self.now = self.most = self.calls = 0

    def wrap(self, fetch: Any) -> Any:
        async def counted(*args: Any, **kwargs: Any) -> list[DailyMetrics]:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
            try:
                await asyncio.sleep(0.2)
                return list(await fetch(*args, **kwargs))
            finally:
                self.now -= 1

        return counted


@pytest.fixture
def counted(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> InFlight:
    seen = InFlight()
    adapter = engine.registry.adapter("sandbox")
    monkeypatch.setattr(adapter, "fetch_daily", seen.wrap(adapter.fetch_daily))
    return seen


async def test_two_runners_never_exceed_the_authorization_budget_and_defer_the_rest(
    connected: Connected, engine: Engine, redis_settings: Settings, counted: InFlight
) -> None:
    shared = Engine(engine.sessions, engine.registry, redis_settings)
    ids = [uuid.UUID(c["id"]) for c in connected.connections]
    # Two workers: each its own in-process semaphores, one budget on Redis.
    first, second = limits.Limits(redis_settings), limits.Limits(redis_settings)
    assert first.shared
    assert second.shared
    started = utcnow()

    a, b = await asyncio.gather(
        service.sync_many(shared, ids, limits=first),
        service.sync_many(shared, list(reversed(ids)), limits=second),
    )

    # One call at a time over both workers: each connection synced by one of them, the other
    # worker's attempts deferred rather than waiting.
    assert counted.most == 1
    assert counted.calls == 2
    assert (a["synced"] + b["synced"], a["deferred"] + b["deferred"]) == (2, 2)
    async with connected.tether.sessions() as session:
        for connection_id in ids:
            c = await session.get(Connection, connection_id)
            assert c is not None
            assert c.last_synced_at is not None
            assert c.last_synced_at > started


async def test_a_connection_without_a_free_slot_is_due_again_shortly(
    connected: Connected, engine: Engine, redis_settings: Settings, counted: InFlight
) -> None:
    shared = Engine(engine.sessions, engine.registry, redis_settings)
    holder = limits.Limits(redis_settings)
    connection_id = uuid.UUID(connected.connections[0]["id"])
    authorization_id = uuid.UUID(connected.id)
    asked_at = utcnow()

    async with holder.slot("sandbox", authorization_id) as held:
        assert held
        result = await service.sync_connection(
            shared, connection_id, limits=limits.Limits(redis_settings)
        )

    assert (result.outcome, result.rows) == ("deferred", 0)
    assert counted.calls == 0
    async with connected.tether.sessions() as session:
        c = await session.get(Connection, connection_id)
        assert c is not None
        assert c.next_sync_at is not None
        assert c.next_sync_at - asked_at <= timedelta(seconds=limits.BUSY_RETRY_SECONDS + 2)
        assert c.next_sync_at > asked_at
        assert c.sync_error is None
    again = await service.sync_connection(shared, connection_id, limits=holder)
    assert (again.outcome, again.days_loaded) == ("synced", 90)


async def test_without_redis_calls_wait_for_the_in_process_slots(
    connected: Connected, engine: Engine, counted: InFlight
) -> None:
    settings = engine.settings.model_copy(
        update={"broker_url": None, "sync_authorization_concurrency": 1}
    )
    local = Engine(engine.sessions, engine.registry, settings)
    ids = [uuid.UUID(c["id"]) for c in connected.connections]
    budget = limits.Limits(settings)
    assert not budget.shared

    results = await asyncio.gather(
        *(
            service.sync_connection(
                local, i, start=utcnow().date() - timedelta(days=n), limits=budget
            )
            for n in range(3)
            for i in ids
        )
    )

    assert {r.outcome for r in results} == {"synced"}
    assert counted.most == 1


async def test_a_slot_lives_on_redis_for_the_call_time_out_and_is_given_back(
    budgets: Settings,
) -> None:
    budget = limits.Limits(budgets)
    authorization_id = uuid.uuid4()
    keys = [
        f"{budgets.broker_namespace}:sync:authorization:{authorization_id}:slots",
        f"{budgets.broker_namespace}:sync:provider:sandbox:slots",
    ]
    client = redis.Redis.from_url(REDIS_URL)
    try:
        async with budget.slot("sandbox", authorization_id) as held:
            assert held
            seconds, micros = client.time()
            now_ms = int(seconds) * 1000 + int(micros) // 1000
            for key in keys:
                ((_, ends),) = client.zrange(key, 0, -1, withscores=True)
                assert 0 < float(ends) - now_ms <= budget.slot_life_ms
                assert budget.slot_life_ms < client.pttl(key) <= budget.slot_life_ms + 1000
        assert [client.exists(key) and client.zcard(key) for key in keys] == [0, 0]
    finally:
        client.close()
        await budget.aclose()


async def test_an_earlier_releases_counters_do_not_get_in_the_way(budgets: Settings) -> None:
    budget = limits.Limits(budgets)
    authorization_id = uuid.uuid4()
    client = redis.Redis.from_url(REDIS_URL)
    old = f"{budgets.broker_namespace}:sync:authorization:{authorization_id}"
    client.set(old, 5, px=600_000)
    client.set(f"{budgets.broker_namespace}:sync:provider:sandbox", 64, px=600_000)
    try:
        async with budget.slot("sandbox", authorization_id) as held:
            assert held
        assert client.get(old) == b"5"
    finally:
        client.close()
        await budget.aclose()


async def test_a_call_slower_than_its_slot_life_keeps_its_slot(budgets: Settings) -> None:
    holder, other = limits.Limits(budgets), limits.Limits(budgets)
    holder.slot_life_ms = 300  # moved on every 100 ms while the call runs
    authorization_id = uuid.uuid4()
    try:
        async with holder.slot("sandbox", authorization_id) as held:
            assert held
            for _ in range(10):  # a second: over three lives of the slot
                await asyncio.sleep(0.1)
                async with other.slot("sandbox", authorization_id) as free:
                    assert not free
        async with other.slot("sandbox", authorization_id) as free:
            assert free
    finally:
        await holder.aclose()
        await other.aclose()


# A worker: takes a slot through Tether's own code, says so, then works until it is killed.
WORKER = """
import asyncio, sys, uuid
from tether.config import Settings
from tether.sync.limits import Limits

async def main() -> None:
    settings = Settings.model_validate_json(sys.argv[1])
    async with Limits(settings).slot(sys.argv[2], uuid.UUID(sys.argv[3])) as held:
        print("held" if held else "refused", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


@asynccontextmanager
async def killed_holding_a_slot(
    settings: Settings, provider: str, authorization_id: uuid.UUID
) -> AsyncIterator[float]:
    """A worker process that took a slot and was then killed (SIGKILL): yields when (on the
    monotonic clock) it was killed."""
    wanted = {"broker_url", "broker_namespace", "provider_timeout_seconds"}
    wanted |= {"sync_authorization_concurrency", "sync_provider_concurrency"}
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        settings.model_dump_json(include=wanted),
        provider,
        str(authorization_id),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        said = await asyncio.wait_for(worker.stdout.readline(), 30)  # type: ignore[union-attr]
        if said != b"held\n":
            worker.kill()
            errors = await worker.stderr.read()  # type: ignore[union-attr]
            pytest.fail(f"The worker did not take its slot: {said!r} {errors.decode()}")
        worker.kill()
        killed_at = time.monotonic()
        assert await worker.wait() == -9
        yield killed_at
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()


async def held(budget: limits.Limits, provider: str, count: int) -> list[bool]:
    """Whether each of `count` calls at once (each of its own authorization) got a slot."""
    async with AsyncExitStack() as calls:
        return [
            await calls.enter_async_context(budget.slot(provider, uuid.uuid4()))
            for _ in range(count)
        ]


async def test_a_killed_workers_slot_is_free_again_within_the_call_time_out(
    budgets: Settings,
) -> None:
    budget = limits.Limits(budgets)
    life = budget.slot_life_ms / 1000
    authorization_id = uuid.uuid4()
    try:
        async with killed_holding_a_slot(budgets, "sandbox", authorization_id) as killed_at:
            async with budget.slot("sandbox", authorization_id) as free:
                assert not free  # still the dead worker's
            while time.monotonic() - killed_at < life + 1:
                async with budget.slot("sandbox", authorization_id) as free:
                    if free:
                        break
                await asyncio.sleep(0.05)
            freed_after = time.monotonic() - killed_at

        assert free, f"still taken {freed_after:.1f} s after the kill (slots last {life} s)"
    finally:
        await budget.aclose()


async def test_a_killed_workers_slot_frees_while_other_calls_keep_the_budget_busy(
    budgets: Settings,
) -> None:
    budget, others = limits.Limits(budgets), limits.Limits(budgets)
    life = budget.slot_life_ms / 1000
    taken: list[bool] = []
    stop = asyncio.Event()

    async def busy() -> None:
        # Another worker's calls on the same provider, one after another, all along.
        while not stop.is_set():
            async with others.slot("sandbox", uuid.uuid4()) as free:
                taken.append(free)
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.01)

    try:
        async with killed_holding_a_slot(budgets, "sandbox", uuid.uuid4()) as killed_at:
            assert await held(budget, "sandbox", 3) == [True, True, False]
            calls = asyncio.create_task(busy())
            await asyncio.sleep(life + 0.5 - (time.monotonic() - killed_at))
            # Three slots: one is the busy worker's, the dead worker's is free again.
            assert await held(budget, "sandbox", 2) == [True, True]
            stop.set()
            await calls

        assert len(taken) > 20
        assert all(taken)
    finally:
        stop.set()
        await budget.aclose()
        await others.aclose()
