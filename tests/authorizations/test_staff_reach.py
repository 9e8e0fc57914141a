"""Staff act on a data source for everyone only when they see every client it serves, count only
their own clients, and filter only by them; viewers never act."""

from typing import Any

import httpx

from tests.fixtures.builders import Org, connect_sandbox
from tests.fixtures.running import Tether


async def _accounts(api: httpx.AsyncClient, authorization_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/api/v1/authorizations/{authorization_id}/accounts")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def _use(org: Org, client: dict[str, Any], account: dict[str, Any]) -> dict[str, Any]:
    body = {"client_id": client["id"], "account_id": account["id"]}
    response = await org.api.post("/api/v1/connections", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _refusal(response: httpx.Response) -> str:
    assert response.status_code == 403, response.text
    return str(response.json()["error"]["message"])


async def _roles(org: Org) -> dict[str, str]:
    listed = await org.api.get("/api/v1/authorizations", params={"provider": "sandbox"})
    return {a["external_user_name"]: a["role"] for a in listed.json()["data"]}


async def test_limited_staff_cannot_delete_an_admins_unused_data_source(org: Org) -> None:
    admins = await connect_sandbox(org.api, username="alice")
    mine = await org.client("Mine")
    staff = await org.member("staff", clients=[mine["id"]])
    viewer = await org.member("viewer")

    refused = await staff.delete(f"/api/v1/authorizations/{admins['id']}")
    by_viewer = await viewer.delete(f"/api/v1/authorizations/{admins['id']}")

    assert "only its connector, an admin or staff who see every client" in _refusal(refused)
    assert "Viewers cannot" in _refusal(by_viewer)
    kept = await org.api.get(f"/api/v1/authorizations/{admins['id']}")
    assert kept.status_code == 200


async def test_staff_delete_their_own_data_source_and_staff_who_see_all_any(org: Org) -> None:
    mine = await org.client("Mine")
    limited = await org.member("staff", clients=[mine["id"]])
    everyone = await org.member("staff")
    theirs = await connect_sandbox(limited, username="bob")
    admins = await connect_sandbox(org.api, username="alice")

    own = await limited.delete(f"/api/v1/authorizations/{theirs['id']}")
    other = await everyone.delete(f"/api/v1/authorizations/{admins['id']}")

    assert (own.status_code, other.status_code) == (204, 204)


async def test_limited_staff_cannot_delete_a_data_source_serving_others(org: Org) -> None:
    admins = await connect_sandbox(org.api)
    mine, theirs = await org.client("Mine"), await org.client("Theirs")
    account = (await _accounts(org.api, admins["id"]))[0]
    await _use(org, mine, account)
    await _use(org, theirs, account)
    staff = await org.member("staff", clients=[mine["id"]])

    response = await staff.delete(f"/api/v1/authorizations/{admins['id']}")

    message = _refusal(response)
    assert "also serves clients you cannot see" in message
    assert "Theirs" not in message


async def test_the_refusal_to_delete_counts_only_the_connectors_own_clients(org: Org) -> None:
    mine, theirs = await org.client("Mine"), await org.client("Theirs")
    staff = await org.member("staff", clients=[mine["id"]])
    own = await connect_sandbox(staff, username="bob")
    account = (await _accounts(org.api, own["id"]))[0]
    await _use(org, mine, account)
    await _use(org, theirs, account)

    response = await staff.delete(f"/api/v1/authorizations/{own['id']}")

    assert response.status_code == 409, response.text
    message = response.json()["error"]["message"]
    assert "still used by Mine and clients you cannot see." in message
    assert "Theirs" not in message
    assert "1 other" not in message


async def test_limited_staff_cannot_demote_the_main_data_source_serving_others(org: Org) -> None:
    bobs = await connect_sandbox(org.api, username="bob")
    alices = await connect_sandbox(org.api, username="alice")  # the newest: main
    mine, theirs = await org.client("Mine"), await org.client("Theirs")
    await _use(org, mine, (await _accounts(org.api, bobs["id"]))[0])
    await _use(org, theirs, (await _accounts(org.api, alices["id"]))[0])
    limited = await org.member("staff", clients=[mine["id"]])
    covering = await org.member("staff", clients=[mine["id"], theirs["id"]])

    refused = await limited.post(f"/api/v1/authorizations/{bobs['id']}/promote")

    message = _refusal(refused)
    assert "The main authorization (Alice Martin) also serves clients you cannot see" in message
    assert "only its connector or an admin" in message
    assert await _roles(org) == {"Alice Martin": "main", "Bob Okafor": "secondary"}
    promoted = await covering.post(f"/api/v1/authorizations/{bobs['id']}/promote")
    assert promoted.status_code == 200, promoted.text
    assert await _roles(org) == {"Alice Martin": "secondary", "Bob Okafor": "main"}


async def test_limited_staff_cannot_promote_a_data_source_serving_none_of_their_clients(
    org: Org,
) -> None:
    bobs = await connect_sandbox(org.api, username="bob")
    await connect_sandbox(org.api, username="alice")
    mine = await org.client("Mine")
    staff = await org.member("staff", clients=[mine["id"]])
    viewer = await org.member("viewer")

    refused = await staff.post(f"/api/v1/authorizations/{bobs['id']}/promote")
    by_viewer = await viewer.post(f"/api/v1/authorizations/{bobs['id']}/promote")

    assert "serves none of your clients" in _refusal(refused)
    assert "Viewers cannot" in _refusal(by_viewer)
    assert await _roles(org) == {"Alice Martin": "main", "Bob Okafor": "secondary"}


async def test_limited_staff_cannot_replace_the_api_key_of_an_admins_data_source(
    org: Org, tether: Tether
) -> None:
    users = await tether.sandbox("GET", "/users")
    key = next(u for u in users if u["username"] == "carol")["api_key"]
    body = {"provider": "sandbox_api_key", "api_key": key}
    created = await org.api.post("/api/v1/authorizations", json=body)
    assert created.status_code == 201, created.text
    path = f"/api/v1/authorizations/{created.json()['id']}/api-key"
    mine = await org.client("Mine")
    staff = await org.member("staff", clients=[mine["id"]])
    everyone = await org.member("staff")

    refused = await staff.put(path, json={"api_key": key})
    replaced = await everyone.put(path, json={"api_key": key})

    assert "only its connector, an admin or staff who see every client" in _refusal(refused)
    assert key not in refused.text
    assert replaced.status_code == 200, replaced.text


async def test_only_those_who_may_act_for_everyone_check_a_data_source(org: Org) -> None:
    admins = await connect_sandbox(org.api)
    mine, theirs = await org.client("Mine"), await org.client("Theirs")
    accounts = await _accounts(org.api, admins["id"])
    await _use(org, mine, accounts[0])
    await _use(org, theirs, accounts[1])
    limited = await org.member("staff", clients=[mine["id"]])
    covering = await org.member("staff", clients=[mine["id"], theirs["id"]])
    viewer = await org.member("viewer")
    path = f"/api/v1/authorizations/{admins['id']}/check"

    assert "only its connector or an admin can check it now" in _refusal(await limited.post(path))
    assert "Viewers cannot" in _refusal(await viewer.post(path))
    checked = await covering.post(path)
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "active"


async def test_staff_count_only_their_clients_on_an_accounts_use(org: Org) -> None:
    admins = await connect_sandbox(org.api)
    mine, theirs = await org.client("Mine"), await org.client("Theirs")
    account = (await _accounts(org.api, admins["id"]))[0]
    await _use(org, mine, account)
    await _use(org, theirs, account)
    staff = await org.member("staff", clients=[mine["id"]])

    seen = {a["id"]: a["client_count"] for a in await _accounts(staff, admins["id"])}
    every = {a["id"]: a["client_count"] for a in await _accounts(org.api, admins["id"])}

    assert (seen[account["id"]], every[account["id"]]) == (1, 2)


async def test_filtering_incidents_by_a_client_staff_cannot_see_is_not_found(org: Org) -> None:
    await connect_sandbox(org.api)
    mine, theirs = await org.client("Mine"), await org.client("Theirs")
    staff = await org.member("staff", clients=[mine["id"]])

    hidden = await staff.get("/api/v1/incidents", params={"client_id": theirs["id"]})
    own = await staff.get("/api/v1/incidents", params={"client_id": mine["id"]})
    connections = await staff.get("/api/v1/connections", params={"client_id": theirs["id"]})

    assert hidden.status_code == 404, hidden.text
    assert hidden.json()["error"]["message"] == connections.json()["error"]["message"]
    assert own.status_code == 200
