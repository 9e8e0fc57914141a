"""GET /api/v1/incidents: filters, staff scoping, and the audit trail behind them."""

from tests.fixtures.connected import Connected


async def _lapse_one_account(connected: Connected) -> None:
    lost = connected.accounts[0]
    await connected.tether.sandbox("DELETE", f"/users/alice/accounts/{lost['external_id']}")
    await connected.check()


async def test_incidents_filter_by_state_client_and_kind(connected: Connected) -> None:
    await _lapse_one_account(connected)
    northwind, fjord = connected.clients

    assert len(await connected.incidents(state="open")) == 1
    assert await connected.incidents(state="closed") == []
    assert len(await connected.incidents(client_id=northwind["id"])) == 1
    assert await connected.incidents(client_id=fjord["id"]) == []
    assert await connected.incidents(kind="outage") == []
    assert await connected.incidents(provider="google_ads") == []


async def test_staff_see_only_incidents_of_their_clients(connected: Connected) -> None:
    await _lapse_one_account(connected)
    northwind, fjord = connected.clients
    theirs = await connected.org.member("staff", clients=[northwind["id"]])
    others = await connected.org.member("staff", clients=[fjord["id"]])

    seen = (await theirs.get("/api/v1/incidents")).json()["data"]
    unseen = (await others.get("/api/v1/incidents")).json()["data"]

    assert [c["name"] for c in seen[0]["affected_clients"]] == ["Northwind Outfitters"]
    assert unseen == []


async def test_every_status_and_incident_change_is_in_the_audit_log(connected: Connected) -> None:
    await _lapse_one_account(connected)

    actions = {(e["action"], e["subject_type"]) for e in await connected.audit()}

    assert ("connection.status", "connection") in actions
    assert ("incident.opened", "incident") in actions


async def test_only_admins_read_the_audit_log(connected: Connected) -> None:
    staff = await connected.org.member("staff")

    response = await staff.get("/api/v1/audit")

    assert response.status_code == 403


async def test_a_bad_incident_filter_is_refused(connected: Connected) -> None:
    response = await connected.org.api.get("/api/v1/incidents", params={"state": "maybe"})

    assert response.status_code == 422
