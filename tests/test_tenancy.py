"""Nothing crosses an organization's border, and staff see only their clients."""

from typing import Any

import httpx

from tests.fixtures.builders import Org, connect_sandbox


async def _connected(org: Org, *client_names: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    authorization = await connect_sandbox(org.api)
    accounts = (await org.api.get(f"/api/v1/authorizations/{authorization['id']}/accounts")).json()
    clients = [await org.client(name) for name in client_names]
    for client in clients:
        for account in accounts["data"][:2]:
            response = await org.api.post(
                "/api/v1/connections", json={"client_id": client["id"], "account_id": account["id"]}
            )
            assert response.status_code == 201
    return authorization, clients


async def test_another_organization_gets_404_for_everything(org: Org, other_org: Org) -> None:
    authorization, (client,) = await _connected(org, "Northwind")
    connection = (await org.api.get("/api/v1/connections")).json()["data"][0]

    for path in (
        f"/api/v1/clients/{client['id']}",
        f"/api/v1/authorizations/{authorization['id']}",
        f"/api/v1/authorizations/{authorization['id']}/accounts",
        f"/api/v1/connections/{connection['id']}",
        f"/api/v1/members/{org.admin_id}",
    ):
        response = await other_org.api.get(path)
        assert response.status_code == 404, path
    assert (await other_org.api.get("/api/v1/connections")).json()["data"] == []
    assert (await other_org.api.get("/api/v1/clients")).json()["total"] == 0


async def test_a_client_cannot_be_connected_to_another_organizations_account(
    org: Org, other_org: Org
) -> None:
    authorization, _ = await _connected(org, "Northwind")
    account = (await org.api.get(f"/api/v1/authorizations/{authorization['id']}/accounts")).json()
    their_client = await other_org.client("Theirs")

    response = await other_org.api.post(
        "/api/v1/connections",
        json={"client_id": their_client["id"], "account_id": account["data"][0]["id"]},
    )
    foreign_client = await org.api.post(
        "/api/v1/connections",
        json={"client_id": their_client["id"], "account_id": account["data"][0]["id"]},
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_account"
    assert foreign_client.status_code == 404


async def test_staff_see_only_the_clients_in_their_access_list(org: Org) -> None:
    _, (mine, theirs) = await _connected(org, "Mine", "Theirs")
    staff = await org.member("staff", clients=[mine["id"]])

    clients = (await staff.get("/api/v1/clients")).json()
    connections = (await staff.get("/api/v1/connections")).json()["data"]
    counts = (await staff.get("/api/v1/connections/counts")).json()
    hidden = await staff.get(f"/api/v1/clients/{theirs['id']}")
    filtered = await staff.get("/api/v1/connections", params={"client_id": theirs["id"]})

    assert [c["name"] for c in clients["data"]] == ["Mine"]
    assert connections
    assert {c["client_name"] for c in connections} == {"Mine"}
    assert counts["total"] == len(connections)
    assert hidden.status_code == 404
    assert filtered.status_code == 404


async def test_staff_with_access_to_all_clients_see_everything(org: Org) -> None:
    await _connected(org, "One", "Two")
    staff = await org.member("staff")

    connections = (await staff.get("/api/v1/connections")).json()["data"]

    assert {c["client_name"] for c in connections} == {"One", "Two"}


async def test_limited_staff_cannot_connect_a_hidden_client(org: Org) -> None:
    authorization, (mine, theirs) = await _connected(org, "Mine", "Theirs")
    staff = await org.member("staff", clients=[mine["id"]])
    account = (await org.api.get(f"/api/v1/authorizations/{authorization['id']}/accounts")).json()

    response = await staff.post(
        "/api/v1/connections",
        json={"client_id": theirs["id"], "account_id": account["data"][-1]["id"]},
    )

    assert response.status_code == 404


async def test_requests_without_a_valid_token_are_refused(org: Org) -> None:
    base = str(org.api.base_url)
    async with httpx.AsyncClient(base_url=base) as anonymous:
        missing = await anonymous.get("/api/v1/connections")
        wrong = await anonymous.get(
            "/api/v1/connections", headers={"Authorization": "Bearer tth_not-a-real-token"}
        )

    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "not_authenticated"
    assert wrong.status_code == 401
    assert "not valid" in wrong.json()["error"]["message"]
