"""A provider-wide outage is one provider incident, not a lapse per authorization."""

import time_machine

from tests.conftest import Tether
from tests.fixtures.builders import Org, connect_sandbox
from tether.db import utcnow


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
