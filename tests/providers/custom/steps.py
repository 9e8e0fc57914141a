"""What members do with a declared provider, over Tether's API and the OAuth server's pages."""

from typing import Any

import httpx

from tests.fixtures.builders import Org, sign_in_through
from tests.fixtures.oidc import sign_in


async def _at_oidc(authorize_url: str, username: str, password: str | None) -> str:
    return await sign_in(authorize_url, username)


async def sign_in_at_acme(
    api: httpx.AsyncClient, path: str, body: dict[str, Any] | None = None
) -> str:
    """Start a sign-in at Tether, sign in at the OAuth server, land on Tether's callback."""
    return await sign_in_through(api, path, body, at=_at_oidc)


async def connect_acme(api: httpx.AsyncClient, provider: str = "acme_ads") -> str:
    return await sign_in_at_acme(api, "/api/v1/authorizations/oauth/start", {"provider": provider})


async def connection_of(org: Org, authorization_id: str, client_name: str) -> dict[str, Any]:
    listed = await org.api.get(f"/api/v1/authorizations/{authorization_id}/accounts")
    account = listed.json()["data"][0]
    client = await org.client(client_name)
    created = await org.api.post(
        "/api/v1/connections", json={"client_id": client["id"], "account_id": account["id"]}
    )
    assert created.status_code == 201, created.text
    return dict(created.json())
