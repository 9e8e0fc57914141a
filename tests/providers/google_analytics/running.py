"""The steps a member takes with a Google Analytics or YouTube source on the shared `tether`
(whose sandbox stands in for both, in its Google dialect): what their end-to-end tests share.
"""

from dataclasses import dataclass
from typing import Any

from tests.fixtures.builders import Org, consent, sign_in_through
from tests.fixtures.running import Tether


@dataclass
class Source:
    """One connected Google source of an organization, seen through its API."""

    org: Org
    tether: Tether
    authorization_id: str

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.org.api.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def accounts(self) -> list[dict[str, Any]]:
        """Every account of the authorization, page after page of Tether's API."""
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = await self.get(
                f"/api/v1/authorizations/{self.authorization_id}/accounts", **params
            )
            found += page["data"]
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    async def check(self) -> dict[str, Any]:
        response = await self.org.api.post(f"/api/v1/authorizations/{self.authorization_id}/check")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def connect_client(self, account: dict[str, Any]) -> dict[str, Any]:
        client = await self.org.client()
        body = {"client_id": client["id"], "account_id": account["id"]}
        response = await self.org.api.post("/api/v1/connections", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def sync(self, connection: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.tether.sync(self.org.api, connection["id"]))

    async def connection_statuses(self) -> dict[str, tuple[str, str | None]]:
        rows = (await self.get("/api/v1/connections"))["data"]
        return {r["account_external_id"]: (r["status"], r.get("reason")) for r in rows}


async def connect(org: Org, tether: Tether, provider: str, username: str = "alice") -> Source:
    """Sign in on the Google dialect's consent page, as a member's browser would."""

    async def on_google(url: str, username: str, password: str | None) -> str:
        assert url.startswith(f"{tether.sandbox_url}/google/")
        return await consent(url, username, password)

    authorization_id = await sign_in_through(
        org.api, body={"provider": provider}, username=username, at=on_google
    )
    return Source(org, tether, authorization_id)
