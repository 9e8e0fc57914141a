"""Provider calls share a concurrency budget per authorization across workers (on Redis)."""

import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from dramatiq.rate_limits import ConcurrentRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from tests.fixtures.connected import Connected
from tether.config import Settings
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import Connection
from tether.providers.base import DailyMetrics
from tether.sync import limits, service

REDIS_URL = os.environ.get("TETHER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_settings(connected: Connected) -> Iterator[Settings]:
    namespace = f"tether_test_limits_{uuid.uuid4().hex}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    yield connected.tether.settings.model_copy(
        update={
            "broker_url": REDIS_URL,
            "broker_namespace": namespace,
            "sync_authorization_concurrency": 1,
        }
    )
    keys = list(client.scan_iter(f"{namespace}:*"))
    if keys:
        client.delete(*keys)
    client.close()


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


async def test_the_budgets_are_dramatiqs_counters_shared_with_its_limiter(
    redis_settings: Settings,
) -> None:
    budget = limits.Limits(redis_settings)  # one call at a time per authorization
    authorization_id = uuid.uuid4()
    key = f"{redis_settings.broker_namespace}:sync:authorization:{authorization_id}"
    client = redis.Redis.from_url(REDIS_URL)
    theirs = ConcurrentRateLimiter(RedisBackend(client=client), key, limit=1)
    try:
        with theirs.acquire(raise_on_failure=False) as taken:
            assert taken
            async with budget.slot("sandbox", authorization_id) as free:
                assert not free
        async with budget.slot("sandbox", authorization_id) as free:
            assert free
            with theirs.acquire(raise_on_failure=False) as taken:
                assert not taken
        assert client.get(key) == b"0"
        assert 0 < client.pttl(key) <= 10 * 60 * 1000
    finally:
        client.close()
        await budget.aclose()
