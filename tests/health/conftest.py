"""A connected sandbox grant serving a few clients, and ways to look at what the engine did."""

from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Tether
from tests.fixtures.builders import Org, connect_sandbox


@dataclass
class Connected:
    """Alice's sandbox grant, with two clients connected to two of its accounts."""

    org: Org
    tether: Tether
    authorization: dict[str, Any]
    accounts: list[dict[str, Any]]
    clients: list[dict[str, Any]]
    connections: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return str(self.authorization["id"])

    async def check(self) -> dict[str, Any]:
        response = await self.org.api.post(f"/api/v1/authorizations/{self.id}/check")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def grant_id(self, username: str = "alice") -> str:
        grants = await self.tether.sandbox("GET", "/grants", params={"username": username})
        live = [g for g in grants if not g["revoked_reason"]]
        return str(live[-1]["id"])

    async def connection_statuses(self) -> dict[str, str]:
        rows = (await self.org.api.get("/api/v1/connections")).json()["data"]
        return {row["account_external_id"]: row["status"] for row in rows}

    async def incidents(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.org.api.get("/api/v1/incidents", params=params)
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    async def audit(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.org.api.get("/api/v1/audit", params=params)
        return list(response.json()["data"])


@pytest.fixture
async def connected(org: Org, tether: Tether) -> Connected:
    authorization = await connect_sandbox(org.api)
    listed = await org.api.get(f"/api/v1/authorizations/{authorization['id']}/accounts")
    accounts = listed.json()["data"][:2]
    clients = [await org.client("Northwind Outfitters"), await org.client("Blue Fjord Coffee")]
    connections = []
    for client, account in zip(clients, accounts, strict=True):
        response = await org.api.post(
            "/api/v1/connections", json={"client_id": client["id"], "account_id": account["id"]}
        )
        connections.append(response.json())
    return Connected(org, tether, authorization, accounts, clients, connections)


@pytest.fixture
async def org_with_meta_like_grant(org: Org, tether: Tether) -> Connected:
    """A grant like Meta's: a 60-day access token and no refresh token."""
    await tether.sandbox(
        "PUT", "/settings", json={"refreshable": False, "non_refreshable_lifetime": 60 * 86400}
    )
    authorization = await connect_sandbox(org.api)
    return Connected(org, tether, authorization, [], [], [])
