"""Who may reconnect; promote, switch, disconnect, delete; the integrations view; the audit."""

import uuid

import httpx
import pytest
from sqlalchemy import select

from tests.fixtures.builders import Org, connect_sandbox, consent
from tests.fixtures.connected import Connected
from tests.fixtures.running import Tether
from tether.models import Authorization


async def _start(api: httpx.AsyncClient, path: str) -> httpx.Response:
    return await api.post(path)


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("admin", True),
        ("staff_all", True),
        ("staff_covering", True),
        ("staff_partial", False),
        ("viewer", False),
    ],
)
async def test_who_may_reconnect_an_authorization(
    connected: Connected, who: str, allowed: bool
) -> None:
    northwind, fjord = connected.clients
    members = {
        "admin": connected.org.api,
        "staff_all": await connected.org.member("staff"),
        "staff_covering": await connected.org.member(
            "staff", clients=[northwind["id"], fjord["id"]]
        ),
        "staff_partial": await connected.org.member("staff", clients=[northwind["id"]]),
        "viewer": await connected.org.member("viewer"),
    }

    response = await _start(members[who], f"/api/v1/authorizations/{connected.id}/reconnect")

    assert (response.status_code == 200) is allowed, response.text
    if not allowed:
        assert response.status_code == 403
        assert response.json()["error"]["message"]


async def test_the_connector_may_reconnect_even_as_limited_staff(org: Org, tether: Tether) -> None:
    client = await org.client("Mine")
    staff = await org.member("staff", clients=[client["id"]])
    authorization = await connect_sandbox(staff)
    other = await org.client("Not mine")
    account = (await org.api.get(f"/api/v1/authorizations/{authorization['id']}/accounts")).json()
    await org.api.post(
        "/api/v1/connections",
        json={"client_id": other["id"], "account_id": account["data"][0]["id"]},
    )

    response = await staff.post(f"/api/v1/authorizations/{authorization['id']}/reconnect")

    assert response.status_code == 200


async def test_partial_staff_reconnect_their_own_clients_through_a_new_authorization(
    connected: Connected,
) -> None:
    northwind, _fjord = connected.clients
    staff = await connected.org.member("staff", clients=[northwind["id"]])
    await connected.tether.sandbox("POST", "/users/alice/grants/revoke")
    await connected.check()
    mine = next(c for c in connected.connections if c["client_id"] == northwind["id"])

    started = await staff.post(f"/api/v1/connections/{mine['id']}/reconnect")
    callback = await consent(started.json()["authorize_url"], "alice")
    async with httpx.AsyncClient() as browser:
        done = await browser.get(callback, headers={"Accept": "application/json"})

    assert done.status_code == 200, done.text
    assert done.json()["authorization_id"] != connected.id
    rows = {
        r["client_name"]: r
        for r in (await connected.org.api.get("/api/v1/connections")).json()["data"]
    }
    assert rows["Northwind Outfitters"]["status"] == "active"
    assert rows["Northwind Outfitters"]["authorization_id"] == done.json()["authorization_id"]
    assert rows["Blue Fjord Coffee"]["status"] == "needs_reconnect"
    assert rows["Blue Fjord Coffee"]["authorization_id"] == connected.id


async def test_viewers_cannot_reconnect_a_connection(connected: Connected) -> None:
    viewer = await connected.org.member("viewer")

    response = await viewer.post(f"/api/v1/connections/{connected.connections[0]['id']}/reconnect")

    assert response.status_code == 403
    assert "Viewers" in response.json()["error"]["message"]


async def _api_key(tether: Tether, username: str) -> str:
    return str((await tether.sandbox("GET", f"/users/{username}"))["api_key"])


async def _stored_key(tether: Tether, authorization_id: str) -> str:
    async with tether.sessions() as session:
        sealed = await session.scalar(
            select(Authorization.api_key).where(Authorization.id == uuid.UUID(authorization_id))
        )
    assert sealed is not None
    return sealed.token


async def test_api_keys_are_re_verified_per_authorization(org: Org, tether: Tether) -> None:
    mine = await org.api.post(
        "/api/v1/authorizations",
        json={"provider": "sandbox_api_key", "api_key": await _api_key(tether, "carol")},
    )
    theirs = await org.api.post(
        "/api/v1/authorizations",
        json={"provider": "sandbox_api_key", "api_key": await _api_key(tether, "bob")},
    )
    mine_id, theirs_id = mine.json()["id"], theirs.json()["id"]
    before = await _stored_key(tether, theirs_id)

    wrong = await org.api.put(
        f"/api/v1/authorizations/{mine_id}/api-key", json={"api_key": "sbx_nope"}
    )
    right = await org.api.put(
        f"/api/v1/authorizations/{mine_id}/api-key",
        json={"api_key": await _api_key(tether, "carol")},
    )
    oauth = await org.api.post(f"/api/v1/authorizations/{mine_id}/reconnect")

    assert wrong.status_code == 422
    assert "sbx_nope" not in wrong.text
    assert right.status_code == 200
    assert right.json()["authorization_id"] == mine_id
    assert oauth.status_code == 422
    assert oauth.json()["error"]["code"] == "api_key_required"
    assert await _stored_key(tether, theirs_id) == before


async def test_promoting_a_secondary_makes_it_main(org: Org) -> None:
    first = await connect_sandbox(org.api, username="alice")
    second = await connect_sandbox(org.api, username="bob")

    promoted = await org.api.post(f"/api/v1/authorizations/{first['id']}/promote")

    assert promoted.json()["role"] == "main"
    roles = {
        a["id"]: a["role"] for a in (await org.api.get("/api/v1/authorizations")).json()["data"]
    }
    assert roles == {first["id"]: "main", second["id"]: "secondary"}


async def test_switching_a_connection_keeps_it_and_moves_it(connected: Connected) -> None:
    connection = connected.connections[0]
    accounts = (
        await connected.org.api.get(f"/api/v1/authorizations/{connected.id}/accounts")
    ).json()["data"]
    target = next(
        a for a in accounts if a["id"] not in {c["account_id"] for c in connected.connections}
    )

    switched = await connected.org.api.patch(
        f"/api/v1/connections/{connection['id']}", json={"account_id": target["id"]}
    )

    assert switched.status_code == 200
    assert switched.json()["id"] == connection["id"]
    assert switched.json()["account_external_id"] == target["external_id"]
    (entry,) = await connected.audit(action="connection.switched")
    assert target["external_id"] in entry["to_value"]


async def test_switching_to_another_provider_or_organization_is_refused(
    connected: Connected, other_org: Org
) -> None:
    connection = connected.connections[0]
    theirs = await connect_sandbox(other_org.api, username="bob")
    their_account = (
        await other_org.api.get(f"/api/v1/authorizations/{theirs['id']}/accounts")
    ).json()["data"][0]

    response = await connected.org.api.patch(
        f"/api/v1/connections/{connection['id']}", json={"account_id": their_account["id"]}
    )

    assert response.status_code == 422


async def test_disconnect_silences_a_connection_and_connect_brings_it_back(
    connected: Connected,
) -> None:
    connection = connected.connections[0]

    off = await connected.org.api.post(f"/api/v1/connections/{connection['id']}/disconnect")
    await connected.tether.sandbox("POST", "/users/alice/grants/revoke")
    await connected.check()
    statuses = await connected.connection_statuses()
    back = await connected.org.api.post(f"/api/v1/connections/{connection['id']}/connect")

    assert off.json()["status"] == "disconnected"
    assert statuses[connection["account_external_id"]] == "disconnected"
    (incident,) = await connected.incidents(state="open")
    assert [c["name"] for c in incident["affected_clients"]] == ["Blue Fjord Coffee"]
    assert back.json()["status"] == "needs_reconnect"


async def test_an_authorization_in_use_cannot_be_deleted(connected: Connected) -> None:
    response = await connected.org.api.delete(f"/api/v1/authorizations/{connected.id}")

    assert response.status_code == 409
    message = response.json()["error"]["message"]
    assert "Northwind Outfitters" in message
    assert "Blue Fjord Coffee" in message


async def test_the_refusal_to_delete_names_only_the_clients_the_member_sees(
    connected: Connected,
) -> None:
    staff = await connected.org.member("staff", clients=[connected.clients[0]["id"]])
    response = await staff.delete(f"/api/v1/authorizations/{connected.id}")

    # Staff who see only some of its clients may not delete it at all (403, not 409).
    assert response.status_code == 403
    message = response.json()["error"]["message"]
    assert "only its connector or an admin can delete it" in message
    assert "Blue Fjord Coffee" not in message
    await staff.aclose()


async def test_deleting_an_unused_authorization_revokes_it_at_the_provider(
    org: Org, tether: Tether
) -> None:
    older = await connect_sandbox(org.api, username="bob")
    newer = await connect_sandbox(org.api, username="alice")

    deleted = await org.api.delete(f"/api/v1/authorizations/{newer['id']}")

    assert deleted.status_code == 204
    grants = await tether.sandbox("GET", "/grants", params={"username": "alice"})
    assert [g["revoked_reason"] for g in grants] == ["token_revoked"]
    remaining = (await org.api.get("/api/v1/authorizations")).json()["data"]
    assert [(a["id"], a["role"]) for a in remaining] == [(older["id"], "main")]
    (entry,) = (
        await org.api.get("/api/v1/audit", params={"action": "authorization.deleted"})
    ).json()["data"]
    assert entry["subject_id"] == newer["id"]


async def test_the_integrations_view_counts_clients_and_sorts(connected: Connected) -> None:
    api = connected.org.api
    await connected.tether.sandbox(
        "DELETE", f"/users/alice/accounts/{connected.accounts[0]['external_id']}"
    )
    await connected.check()

    by_clients = (await api.get("/api/v1/integrations", params={"sort": "-clients"})).json()
    lapsed = (await api.get("/api/v1/integrations", params={"status": "needs_reconnect"})).json()
    clients = (await api.get(f"/api/v1/integrations/{connected.accounts[1]['id']}/clients")).json()

    assert "data" in by_clients, by_clients
    counts = [row["clients"] for row in by_clients["data"]]
    assert counts == sorted(counts, reverse=True)
    assert counts[:2] == [1, 1]
    assert by_clients["total"] == connected.authorization["account_count"]
    assert [row["id"] for row in lapsed["data"]] == [connected.accounts[0]["id"]]
    assert [c["client_name"] for c in clients["data"]] == ["Blue Fjord Coffee"]
    bad = await api.get("/api/v1/integrations", params={"sort": "secret"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "sort"
