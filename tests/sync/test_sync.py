"""Loading daily metrics: the initial load, the daily load, lapses and what they leave empty."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import time_machine
from sqlalchemy import func, select, update

from tests.fixtures.builders import consent
from tests.fixtures.connected import Connected
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import Connection, MetricDay
from tether.sync import service
from tether.sync.schedule import SYNC_ACTOR, SYNCS


async def _sync(connected: Connected, n: int = 0, **body: Any) -> dict[str, Any]:
    connection_id = connected.connections[n]["id"]
    return dict(await connected.tether.sync(connected.org.api, connection_id, **body))


async def _coverage(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await api.get("/api/v1/coverage", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def _connection(connected: Connected, n: int = 0) -> Connection:
    async with connected.tether.sessions() as session:
        found = await session.get(Connection, uuid.UUID(connected.connections[n]["id"]))
        assert found is not None
        return found


async def _run_due(connected: Connected, engine: Engine) -> set[str]:
    """What the scheduler would hand out now, run as the worker's actor runs it."""
    async with connected.tether.sessions() as session:
        jobs = await SYNCS.take_due(session, utcnow(), connected.tether.settings)
        await session.commit()
    ids = [i for job in jobs if job.actor == SYNC_ACTOR for i in job.args[0]]
    await service.sync_many(engine, [uuid.UUID(i) for i in ids])
    return set(ids)


async def _reconnect(connected: Connected) -> None:
    started = await connected.org.api.post(f"/api/v1/authorizations/{connected.id}/reconnect")
    assert started.status_code == 200, started.text
    callback = await consent(started.json()["authorize_url"], "alice")
    async with httpx.AsyncClient(timeout=30) as browser:
        done = await browser.get(callback, headers={"Accept": "application/json"})
    assert done.status_code == 200, done.text


async def test_a_new_connection_loads_its_last_90_days_at_the_first_tick(
    connected: Connected, engine: Engine
) -> None:
    handed_out = await _run_due(connected, engine)

    assert handed_out == {c["id"] for c in connected.connections}
    for row in await _coverage(connected.org.api):
        assert (row["days_loaded"], row["missing"], row["unrecoverable"]) == (90, [], [])
        assert row["end"] == utcnow().date().isoformat()
        assert row["last_synced_at"] is not None
    synced = await _connection(connected)
    assert synced.next_sync_at is not None
    assert synced.next_sync_at - utcnow() > timedelta(hours=23)
    authorization = (await connected.org.api.get(f"/api/v1/authorizations/{connected.id}")).json()
    assert authorization["last_synced_at"] is not None
    assert await _run_due(connected, engine) == set()


async def test_the_daily_load_replaces_the_restated_days_and_duplicates_nothing(
    connected: Connected,
) -> None:
    first = await _sync(connected)
    assert (first["outcome"], first["days_loaded"]) == ("synced", 90)
    yesterday = utcnow().date() - timedelta(days=1)
    connection_id = uuid.UUID(connected.connections[0]["id"])
    async with connected.tether.sessions() as session:
        await session.execute(
            update(MetricDay)
            .where(MetricDay.connection_id == connection_id, MetricDay.day == yesterday)
            .values(impressions=-1)
        )
        await session.commit()

    with time_machine.travel(utcnow() + timedelta(days=1), tick=True):
        await connected.check()  # the health engine refreshes the day-old token first
        daily = await _sync(connected)

        assert (daily["outcome"], daily["days_loaded"], daily["lost_days"]) == ("synced", 3, 0)
        async with connected.tether.sessions() as session:
            count = await session.scalar(
                select(func.count()).where(MetricDay.connection_id == connection_id)
            )
            restated = await session.get(MetricDay, (connection_id, yesterday))
        assert count == 91
        assert restated is not None
        assert restated.impressions > 0
        (row,) = await _coverage(connected.org.api, connection_id=str(connection_id))
        assert (row["days_loaded"], row["missing"]) == (90, [])


async def test_a_lapse_leaves_a_gap_in_incident_that_the_reconnect_fills(
    connected: Connected, engine: Engine
) -> None:
    await _run_due(connected, engine)
    await connected.tether.sandbox("POST", "/users/alice/grants/revoke")
    assert (await connected.check())["status"] == "needs_reconnect"
    lapsed_on = utcnow().date()

    with time_machine.travel(utcnow() + timedelta(days=5), tick=True):
        assert await _run_due(connected, engine) == set()  # nothing to load while lapsed
        gaps = [row["missing"] for row in await _coverage(connected.org.api)]
        assert (
            gaps
            == [
                [
                    {
                        "start": (lapsed_on + timedelta(days=1)).isoformat(),
                        "end": (lapsed_on + timedelta(days=5)).isoformat(),
                        "days": 5,
                        "in_incident": True,
                    }
                ]
            ]
            * 2
        )

        await _reconnect(connected)
        handed_out = await _run_due(connected, engine)

        assert handed_out == {c["id"] for c in connected.connections}
        for row in await _coverage(connected.org.api):
            assert (row["days_loaded"], row["missing"]) == (90, [])


async def test_days_the_provider_no_longer_serves_are_unrecoverable_and_never_asked_again(
    connected: Connected,
) -> None:
    await connected.tether.sandbox("PUT", "/settings", json={"history_days": 30})

    first = await _sync(connected)
    again = await _sync(connected)

    assert (first["days_loaded"], first["lost_days"]) == (31, 59)
    assert (again["days_loaded"], again["lost_days"]) == (3, 0)
    (row,) = await _coverage(connected.org.api, connection_id=connected.connections[0]["id"])
    today = utcnow().date()
    assert row["missing"] == []
    assert row["unrecoverable"] == [
        {
            "start": (today - timedelta(days=89)).isoformat(),
            "end": (today - timedelta(days=31)).isoformat(),
            "days": 59,
        }
    ]


async def test_throttling_waits_at_least_retry_after_and_lapses_nothing(
    connected: Connected,
) -> None:
    await connected.tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 7200})
    asked_at = utcnow()

    result = await _sync(connected)

    assert (result["outcome"], result["reason"]) == ("failed", "rate_limited")
    connection = await _connection(connected)
    assert connection.sync_failures == 1
    assert connection.sync_error == result["error"]
    assert connection.next_sync_at is not None
    assert connection.next_sync_at >= asked_at + timedelta(seconds=7200)
    assert await connected.incidents() == []
    assert set((await connected.connection_statuses()).values()) == {"active"}


async def test_an_auth_failure_during_a_sync_is_a_lapse_with_its_incident(
    connected: Connected,
) -> None:
    await connected.tether.sandbox("POST", f"/grants/{await connected.grant_id()}/revoke")

    result = await _sync(connected)

    assert (result["outcome"], result["reason"]) == ("failed", "token_revoked")
    assert "revoked" in result["error"]
    (incident,) = await connected.incidents(state="open")
    assert (incident["kind"], incident["reason"]) == ("lapse", "token_revoked")
    assert set((await connected.connection_statuses()).values()) == {"needs_reconnect"}
    changes = await connected.audit(action="authorization.status")
    assert [(e["from_value"], e["to_value"]) for e in changes] == [("active", "needs_reconnect")]
    assert (await _sync(connected, 1))["outcome"] == "skipped"


async def test_metrics_come_as_json_or_csv(connected: Connected) -> None:
    await _sync(connected)
    today = utcnow().date()
    window = {"start": (today - timedelta(days=6)).isoformat(), "end": today.isoformat()}
    path = f"/api/v1/connections/{connected.connections[0]['id']}/metrics"

    as_json = (await connected.org.api.get(path, params=window)).json()
    as_csv = await connected.org.api.get(path, params=window, headers={"Accept": "text/csv"})

    assert [d["day"] for d in as_json] == [
        (today - timedelta(days=n)).isoformat() for n in range(6, -1, -1)
    ]
    assert all(d["impressions"] >= d["clicks"] >= d["conversions"] >= 0 for d in as_json)
    assert as_csv.headers["content-type"].startswith("text/csv")
    header, *lines = as_csv.text.splitlines()
    assert header == "day,impressions,clicks,conversions,spend,currency"
    assert len(lines) == 7
    day, impressions, *_ = lines[0].split(",")
    assert (day, int(impressions)) == (as_json[0]["day"], as_json[0]["impressions"])


async def test_an_explicit_range_is_loaded_and_bad_dates_are_explained(
    connected: Connected,
) -> None:
    today = utcnow().date()
    start = today - timedelta(days=200)

    loaded = await _sync(
        connected, start=start.isoformat(), end=(start + timedelta(days=9)).isoformat()
    )
    backwards = await connected.org.api.post(
        f"/api/v1/connections/{connected.connections[0]['id']}/sync",
        json={"start": today.isoformat(), "end": start.isoformat()},
    )
    garbled = await connected.org.api.get("/api/v1/coverage", params={"start": "2024-13-01"})
    too_wide = await connected.org.api.get(
        "/api/v1/coverage", params={"start": (today - timedelta(days=500)).isoformat()}
    )

    assert (loaded["outcome"], loaded["days_loaded"]) == ("synced", 10)
    assert backwards.status_code == 422
    assert "before the start" in backwards.json()["error"]["message"]
    assert garbled.status_code == 422
    assert "start" in garbled.json()["error"]["message"]
    assert too_wide.status_code == 422
    assert "400 days" in too_wide.json()["error"]["message"]


async def test_staff_see_the_coverage_of_their_clients_only(connected: Connected) -> None:
    mine, theirs = connected.clients
    staff = await connected.org.member("staff", clients=[mine["id"]])

    rows = await _coverage(staff)
    hidden = await staff.get(
        "/api/v1/coverage", params={"connection_id": connected.connections[1]["id"]}
    )
    filtered = await staff.get("/api/v1/coverage", params={"client_id": theirs["id"]})

    assert [r["client_id"] for r in rows] == [mine["id"]]
    assert rows[0]["missing"] == [
        {
            "start": (utcnow().date() - timedelta(days=89)).isoformat(),
            "end": utcnow().date().isoformat(),
            "days": 90,
            "in_incident": False,
        }
    ]
    assert hidden.status_code == 404
    assert filtered.status_code == 404
