"""Switching a connection to another account starts its history over with that account's days."""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from tests.fixtures.connected import Connected
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import Connection, LostDay, MetricDay
from tether.sync import service
from tether.sync.schedule import SYNC_ACTOR, SYNCS

FIGURES = ("day", "impressions", "clicks", "conversions", "spend", "currency")


async def _sync(connected: Connected, n: int) -> dict[str, Any]:
    return dict(await connected.tether.sync(connected.org.api, connected.connections[n]["id"]))


async def _metrics(connected: Connected, n: int) -> list[tuple[Any, ...]]:
    today = utcnow().date()
    response = await connected.org.api.get(
        f"/api/v1/connections/{connected.connections[n]['id']}/metrics",
        params={"start": (today - timedelta(days=89)).isoformat(), "end": today.isoformat()},
    )
    assert response.status_code == 200, response.text
    return [tuple(day[f] for f in FIGURES) for day in response.json()]


async def _coverage(connected: Connected, n: int) -> dict[str, Any]:
    response = await connected.org.api.get(
        "/api/v1/coverage", params={"connection_id": connected.connections[n]["id"]}
    )
    assert response.status_code == 200, response.text
    (row,) = response.json()["data"]
    return dict(row)


async def _switch(connected: Connected, n: int, account_id: str) -> None:
    response = await connected.org.api.patch(
        f"/api/v1/connections/{connected.connections[n]['id']}", json={"account_id": account_id}
    )
    assert response.status_code == 200, response.text


async def _run_due(connected: Connected, engine: Engine) -> set[str]:
    """What the scheduler would hand out now, run as the worker's actor runs it."""
    async with connected.tether.sessions() as session:
        jobs = await SYNCS.take_due(session, utcnow(), connected.tether.settings)
        await session.commit()
    ids = [i for job in jobs if job.actor == SYNC_ACTOR for i in job.args[0]]
    await service.sync_many(engine, [uuid.UUID(i) for i in ids])
    return set(ids)


async def _stored(connected: Connected, n: int) -> tuple[int, int]:
    connection_id = uuid.UUID(connected.connections[n]["id"])
    counts = []
    async with connected.tether.sessions() as session:
        for model in (MetricDay, LostDay):
            stmt = select(func.count()).where(model.connection_id == connection_id)
            counts.append(int(await session.scalar(stmt) or 0))
    return counts[0], counts[1]


async def test_after_a_switch_the_coverage_and_metrics_are_the_new_accounts(
    connected: Connected, engine: Engine
) -> None:
    # The first connection loads its old account's days, some of them no longer served.
    await connected.tether.sandbox("PUT", "/settings", json={"history_days": 30})
    first = await _sync(connected, 0)
    assert (first["days_loaded"], first["lost_days"]) == (31, 59)
    await connected.tether.sandbox("PUT", "/settings", json={"history_days": 1095})
    # The second client's connection, on the account the first one switches to, as reference.
    assert (await _sync(connected, 1))["days_loaded"] == 90
    old, reference = await _metrics(connected, 0), await _metrics(connected, 1)
    assert old != reference[-len(old) :]  # the sandbox's figures differ from account to account

    await _switch(connected, 0, connected.accounts[1]["id"])

    assert await _stored(connected, 0) == (0, 0)
    row = await _coverage(connected, 0)
    assert (row["days_loaded"], row["unrecoverable"], row["sync_error"]) == (0, [], None)
    assert [(g["days"], g["in_incident"]) for g in row["missing"]] == [(90, False)]
    async with connected.tether.sessions() as session:
        switched = await session.get(Connection, uuid.UUID(connected.connections[0]["id"]))
    assert switched is not None
    assert switched.next_sync_at is not None
    assert switched.next_sync_at <= utcnow()

    assert connected.connections[0]["id"] in await _run_due(connected, engine)

    row = await _coverage(connected, 0)
    assert (row["days_loaded"], row["missing"], row["unrecoverable"]) == (90, [], [])
    assert await _metrics(connected, 0) == reference
    assert await _stored(connected, 1) == (90, 0)  # the other client's days are untouched


async def test_switching_to_the_same_account_changes_nothing(
    connected: Connected, engine: Engine
) -> None:
    await _sync(connected, 0)
    before = await _metrics(connected, 0)
    async with connected.tether.sessions() as session:
        synced = await session.get(Connection, uuid.UUID(connected.connections[0]["id"]))
    assert synced is not None

    await _switch(connected, 0, connected.accounts[0]["id"])

    async with connected.tether.sessions() as session:
        after = await session.get(Connection, synced.id)
    assert after is not None
    assert after.next_sync_at == synced.next_sync_at
    assert after.last_synced_at == synced.last_synced_at
    assert await _metrics(connected, 0) == before
    assert await _run_due(connected, engine) == {connected.connections[1]["id"]}
    assert await connected.audit(action="connection.switched") == []
