"""A sync's plan is read before its calls: what changed meanwhile wins over what was planned."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.fixtures.connected import Connected
from tether import vault
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import Authorization, Connection, MetricDay
from tether.providers.base import DailyMetrics, ProviderCallError, Reason
from tether.sync import limits, service


async def _connection(connected: Connected, n: int = 0) -> Connection:
    async with connected.tether.sessions() as session:
        found = await session.get(Connection, uuid.UUID(connected.connections[n]["id"]))
    assert found is not None
    return found


async def _days(connected: Connected, n: int = 0) -> int:
    connection_id = uuid.UUID(connected.connections[n]["id"])
    async with connected.tether.sessions() as session:
        stmt = select(func.count()).where(MetricDay.connection_id == connection_id)
        return int(await session.scalar(stmt) or 0)


def _during_the_call(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, meanwhile: Any, fails: bool = False
) -> None:
    """Run `meanwhile` while the provider call is in flight (after the plan was read)."""
    adapter = engine.registry.adapter("sandbox")
    fetch = adapter.fetch_daily

    async def fetch_daily(*args: Any, **kwargs: Any) -> list[DailyMetrics]:
        served = list(await fetch(*args, **kwargs))
        await meanwhile()
        if fails:
            raise ProviderCallError(Reason.TOKEN_REVOKED, "The access token was revoked.")
        return served

    monkeypatch.setattr(adapter, "fetch_daily", fetch_daily)


async def test_days_fetched_for_the_old_account_are_not_stored_after_a_switch(
    connected: Connected, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def switch() -> None:
        response = await connected.org.api.patch(
            f"/api/v1/connections/{connected.connections[0]['id']}",
            json={"account_id": connected.accounts[1]["id"]},
        )
        assert response.status_code == 200, response.text

    _during_the_call(engine, monkeypatch, switch)

    result = await service.sync_connection(engine, uuid.UUID(connected.connections[0]["id"]))

    assert (result.outcome, result.days_loaded) == ("synced", 0)
    assert await _days(connected) == 0
    switched = await _connection(connected)
    assert switched.account_id == uuid.UUID(connected.accounts[1]["id"])
    assert switched.next_sync_at is not None
    assert switched.next_sync_at <= utcnow()  # still due for the new account's initial load


async def test_a_refusal_of_credentials_replaced_meanwhile_is_no_lapse(
    connected: Connected, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refreshed() -> None:
        async with connected.tether.sessions() as session:
            await session.execute(
                update(Authorization)
                .where(Authorization.id == uuid.UUID(connected.id))
                .values(access_token=vault.seal("a-newer-access-token"))
            )
            await session.commit()

    _during_the_call(engine, monkeypatch, refreshed, fails=True)
    asked_at = utcnow()

    result = await service.sync_connection(engine, uuid.UUID(connected.connections[0]["id"]))

    assert (result.outcome, result.reason) == ("failed", "token_revoked")
    assert await connected.incidents() == []
    assert set((await connected.connection_statuses()).values()) == {"active"}
    retried = await _connection(connected)
    assert retried.sync_failures == 0
    assert retried.next_sync_at is not None
    assert retried.next_sync_at - asked_at <= timedelta(seconds=limits.BUSY_RETRY_SECONDS + 2)


async def test_a_batch_syncs_what_it_can_and_skips_the_rest(
    connected: Connected, engine: Engine
) -> None:
    first, second = (uuid.UUID(c["id"]) for c in connected.connections)
    off = await connected.org.api.post(f"/api/v1/connections/{second}/disconnect")
    assert off.status_code == 200, off.text

    counts = await service.sync_many(engine, [first, second, uuid.uuid4()])

    assert counts == {"synced": 1, "skipped": 2}
    assert (await _days(connected, 0), await _days(connected, 1)) == (90, 0)
    skipped = await _connection(connected, 1)
    assert skipped.next_sync_at is not None
    assert skipped.next_sync_at - utcnow() > timedelta(hours=23)
    accounts = await connected.org.api.get(f"/api/v1/authorizations/{connected.id}/accounts")
    synced = {a["id"]: a["last_synced_at"] for a in accounts.json()["data"]}
    assert synced[connected.accounts[0]["id"]] is not None
    assert synced[connected.accounts[1]["id"]] is None
    authorization = await connected.org.api.get(f"/api/v1/authorizations/{connected.id}")
    assert authorization.json()["last_synced_at"] is not None
