"""Sync now is a job: asking answers 202 at once with where to follow it, a worker runs it, and
the request tells what it loaded. Nobody waits on a provider inside a request."""

import asyncio
import uuid
from datetime import timedelta
from typing import cast

from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from tests.fixtures.broker import run_queued_jobs
from tests.fixtures.builders import Org
from tests.fixtures.connected import Connected
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import MetricDay, SyncRequest
from tether.providers.registry import Registry
from tether.sync import requests
from tether.worker import scheduler


async def _ask(connected: Connected, n: int = 0, **days: str) -> tuple[str, dict[str, object]]:
    connection_id = connected.connections[n]["id"]
    response = await connected.org.api.post(
        f"/api/v1/connections/{connection_id}/sync", json=days or None
    )
    assert response.status_code == 202, response.text
    return response.headers["location"], dict(response.json())


async def _days_stored(connected: Connected) -> int:
    async with connected.tether.sessions() as session:
        return len((await session.scalars(select(MetricDay.day))).all())


async def test_asking_queues_a_job_that_a_worker_runs_and_the_request_tells_the_outcome(
    connected: Connected,
) -> None:
    today = utcnow().date()
    start = today - timedelta(days=9)

    location, queued = await _ask(connected, start=start.isoformat())
    before = await connected.org.api.get(location)
    stored_before = await _days_stored(connected)
    ran = await connected.tether.run_queued_syncs()
    after = await connected.org.api.get(location)

    connection_id = connected.connections[0]["id"]
    assert location == f"/api/v1/syncs/{queued['id']}"
    assert queued["connection_id"] == connection_id
    assert (queued["status"], queued["outcome"], queued["start"]) == (
        "queued",
        None,
        start.isoformat(),
    )
    assert before.json()["status"] == "queued"
    assert stored_before == 0  # asking loaded nothing: the worker does
    assert ran == 1
    finished = after.json()
    assert (finished["status"], finished["outcome"], finished["days_loaded"]) == (
        "finished",
        "synced",
        10,
    )
    assert finished["finished_at"] is not None
    assert await _days_stored(connected) == 10
    assert await connected.tether.run_queued_syncs() == 0  # done once, never again


async def test_asking_again_answers_with_the_queued_sync_and_other_days_wait_their_turn(
    connected: Connected,
) -> None:
    today = utcnow().date()
    first_location, first = await _ask(connected)
    again_location, again = await _ask(connected)
    other = await connected.org.api.post(
        f"/api/v1/connections/{connected.connections[0]['id']}/sync",
        json={"start": (today - timedelta(days=3)).isoformat()},
    )
    _, elsewhere = await _ask(connected, 1)  # another connection has its own
    await connected.tether.run_queued_syncs()
    _, later = await _ask(connected)

    assert (again["id"], again_location) == (first["id"], first_location)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "sync_queued"
    assert elsewhere["id"] != first["id"]
    assert later["id"] != first["id"]  # the first one finished: a new one is queued
    assert later["status"] == "queued"


async def test_who_may_ask_and_follow_and_what_is_refused(
    connected: Connected, other_org: Org
) -> None:
    org = connected.org
    connection_id = connected.connections[0]["id"]
    viewer = await org.member("viewer")
    staff_elsewhere = await org.member("staff", clients=[connected.clients[1]["id"]])
    location, _ = await _ask(connected)
    today = utcnow().date()

    viewer_asks = await viewer.post(f"/api/v1/connections/{connection_id}/sync")
    viewer_follows = await viewer.get(location)
    staff_asks = await staff_elsewhere.post(f"/api/v1/connections/{connection_id}/sync")
    staff_follows = await staff_elsewhere.get(location)
    stranger_asks = await other_org.api.post(f"/api/v1/connections/{connection_id}/sync")
    stranger_follows = await other_org.api.get(location)
    unknown = await org.api.get(f"/api/v1/syncs/{uuid.uuid4()}")
    _, second = await _ask(connected, 1)  # the client staff_elsewhere sees
    staff_sees_theirs = await staff_elsewhere.get(f"/api/v1/syncs/{second['id']}")
    future = await org.api.post(
        f"/api/v1/connections/{connected.connections[1]['id']}/sync",
        json={"start": (today + timedelta(days=2)).isoformat()},
    )

    assert viewer_asks.status_code == 403
    assert viewer_follows.status_code == 200  # seeing how a sync went is reading
    assert (staff_asks.status_code, staff_follows.status_code) == (404, 404)
    assert (stranger_asks.status_code, stranger_follows.status_code) == (404, 404)
    assert unknown.status_code == 404
    assert staff_sees_theirs.status_code == 200
    assert future.status_code == 422
    assert "before the start" in future.json()["error"]["message"]
    async with connected.tether.sessions() as session:
        assert len((await session.scalars(select(SyncRequest))).all()) == 2


async def test_two_workers_given_one_request_run_it_once(
    connected: Connected, engine: Engine
) -> None:
    location, queued = await _ask(connected)
    async with connected.tether.sessions.begin() as session:
        (job,) = await requests.REQUESTS.take_due(session, utcnow(), connected.tether.settings)

    await asyncio.gather(
        requests.run_requests(engine, [str(queued["id"])]),
        requests.run_requests(engine, [str(queued["id"])]),
    )

    followed = (await connected.org.api.get(location)).json()
    assert job.args == ([str(queued["id"])],)
    assert (followed["status"], followed["outcome"]) == ("finished", "synced")
    async with connected.tether.sessions() as session:
        row = await session.get(SyncRequest, uuid.UUID(str(queued["id"])))
    assert row is not None
    assert row.attempts == 1


class _BrokenRegistry:
    """Adapters that fail as a bug would, not as a provider refusing: any use raises."""

    def __getattr__(self, name: str) -> object:
        raise RuntimeError(f"registry.{name} is broken on purpose")


async def test_a_run_that_fails_unexpectedly_is_tried_again_then_abandoned(
    connected: Connected,
) -> None:
    tether = connected.tether
    location, queued = await _ask(connected)
    broken = Engine(tether.sessions, cast(Registry, _BrokenRegistry()), tether.settings)
    async with tether.sessions.begin() as session:
        await requests.REQUESTS.take_due(session, utcnow(), tether.settings)
    tries = requests.RETRIES.max_attempts
    assert tries is not None

    seen = []
    for _ in range(tries):
        # Each retry falls inside the claim window, so the next run takes it at once.
        await requests.run_requests(broken, [str(queued["id"])])
        seen.append((await connected.org.api.get(location)).json())

    first, last = seen[0], seen[-1]
    assert (first["status"], first["last_error"]) == ("queued", requests.FAILED_UNEXPECTEDLY)
    assert [s["status"] for s in seen[1:-1]] == ["queued"] * (tries - 2)
    assert (last["status"], last["outcome"], last["finished_at"]) == ("abandoned", None, None)
    assert last["last_error"] == requests.FAILED_UNEXPECTEDLY
    assert "broken on purpose" not in str(seen)  # the cause is in the log, not the answer
    _, again = await _ask(connected)
    assert again["id"] != queued["id"]  # an abandoned sync no longer holds the connection's turn


async def test_the_scheduler_hands_asked_syncs_to_their_actor(
    connected: Connected, stub_broker: StubBroker
) -> None:
    tether = connected.tether
    location, _ = await _ask(connected)

    await scheduler.tick(tether.sessions, tether.settings)
    run_queued_jobs(stub_broker)

    followed = (await connected.org.api.get(location)).json()
    assert (followed["status"], followed["outcome"]) == ("finished", "synced")
    assert followed["days_loaded"] > 0
