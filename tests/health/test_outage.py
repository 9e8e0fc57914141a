"""A provider-wide outage is one provider incident, not a lapse per authorization."""

import uuid

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import Tether
from tests.fixtures.builders import Org, connect_sandbox
from tether.db import utcnow
from tether.health import checks, repository
from tether.health.checks import Engine
from tether.models import Authorization, Incident, IncidentKind


async def _check(org: Org, authorization_id: str) -> dict[str, str]:
    response = await org.api.post(f"/api/v1/authorizations/{authorization_id}/check")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_an_outage_opens_one_provider_incident_and_holds_back_alarms(
    org: Org, tether: Tether
) -> None:
    ids = [
        (await connect_sandbox(org.api, username=user))["id"] for user in ("alice", "bob", "carol")
    ]
    for authorization_id in ids:
        await _check(org, authorization_id)
    await tether.sandbox("PUT", "/faults", json={"down": True})

    for authorization_id in ids:
        assert (await _check(org, authorization_id))["status"] == "failing"
    later = utcnow().timestamp() + tether.settings.failing_alarm_after_seconds + 60
    with time_machine.travel(later, tick=True):
        for authorization_id in ids:
            await _check(org, authorization_id)

    incidents = (await org.api.get("/api/v1/incidents", params={"state": "open"})).json()["data"]
    assert [(i["scope"], i["kind"], i["provider"]) for i in incidents] == [
        ("provider", "outage", "sandbox")
    ]

    await tether.sandbox("DELETE", "/faults")
    with time_machine.travel(later + 60, tick=True):
        statuses = [(await _check(org, i))["status"] for i in ids]

    assert statuses == ["active"] * 3
    (outage,) = (await org.api.get("/api/v1/incidents")).json()["data"]
    assert outage["closed_how"] == "recovered"


async def test_one_failing_authorization_is_not_an_outage(org: Org, tether: Tether) -> None:
    ids = [
        (await connect_sandbox(org.api, username=user))["id"] for user in ("alice", "bob", "carol")
    ]
    for authorization_id in ids:
        await _check(org, authorization_id)
    await tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 1})

    await _check(org, ids[0])

    assert (await org.api.get("/api/v1/incidents")).json()["data"] == []


async def test_other_organizations_do_not_see_an_outage_of_a_provider_they_do_not_use(
    org: Org, other_org: Org, tether: Tether
) -> None:
    ids = [
        (await connect_sandbox(org.api, username=user))["id"] for user in ("alice", "bob", "carol")
    ]
    await tether.sandbox("PUT", "/faults", json={"down": True})
    for authorization_id in ids:
        await _check(org, authorization_id)

    assert len((await org.api.get("/api/v1/incidents")).json()["data"]) == 1
    assert (await other_org.api.get("/api/v1/incidents")).json()["data"] == []


# PostgreSQL only: SQLite has one writer at a time, so the second check cannot write meanwhile.
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_two_checks_opening_the_same_outage_at_once_both_keep_what_they_found(
    org: Org, tether: Tether, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = [
        uuid.UUID((await connect_sandbox(org.api, username=user))["id"])
        for user in ("alice", "bob", "carol")
    ]
    for authorization_id in (first, second, third):
        await _check(org, str(authorization_id))
    await tether.sandbox("PUT", "/faults", json={"down": True})
    assert await checks.check(engine, third) == "failing"  # one of three: no outage yet
    looked_up = repository.open_incident
    raced: list[bool] = []

    async def lost_the_race(session: AsyncSession, scope_key: str, kind: str) -> Incident | None:
        found = await looked_up(session, scope_key, kind)
        if kind == IncidentKind.OUTAGE and found is None and not raced:
            raced.append(True)
            # Between this check's look and its insert, another check opens the outage.
            assert await checks.check(engine, second) == "failing"
        return found

    monkeypatch.setattr(repository, "open_incident", lost_the_race)
    checked_from = utcnow()

    assert await checks.check(engine, first) == "failing"

    assert raced
    async with tether.sessions() as session:
        statuses = await session.execute(
            select(Authorization.status, Authorization.last_checked_at).where(
                Authorization.id.in_([first, second])
            )
        )
        for status, checked_at in statuses:
            assert status == "failing"
            assert checked_at is not None
            assert checked_at >= checked_from
        opened = (await session.scalars(select(Incident).where(Incident.closed_at.is_(None)))).all()
    assert [(i.scope, i.kind) for i in opened] == [("provider", "outage")]
