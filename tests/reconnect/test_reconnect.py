"""One re-authorization restores every client it serves; a wrong or partial sign-in is clear."""

from typing import Any

import httpx
from sqlalchemy import text

from tests.fixtures.builders import Org, connect_sandbox, consent
from tests.fixtures.running import Tether


async def _mcc(
    org: Org, tether: Tether, *, accounts: int = 50, clients: int = 40
) -> dict[str, Any]:
    """An MCC-like grant: one sandbox user reaching many accounts, serving many clients."""
    await tether.sandbox(
        "POST",
        "/users",
        json=[{"username": "mcc", "password": "mcc-password", "name": "Agency MCC"}],
    )
    await tether.sandbox(
        "POST",
        "/accounts",
        json=[{"name": f"Brand {n:02d} Search", "users": ["mcc"]} for n in range(accounts)],
    )
    authorization = await connect_sandbox(org.api, username="mcc", password="mcc-password")
    listed = await org.api.get(
        f"/api/v1/authorizations/{authorization['id']}/accounts", params={"limit": 200}
    )
    for n, account in enumerate(listed.json()["data"][:clients]):
        client = await org.client(f"Client {n:02d}")
        response = await org.api.post(
            "/api/v1/connections", json={"client_id": client["id"], "account_id": account["id"]}
        )
        assert response.status_code == 201
    return authorization


async def _lapse(org: Org, tether: Tether, authorization_id: str, username: str = "mcc") -> None:
    await tether.sandbox("POST", f"/users/{username}/grants/revoke")
    checked = await org.api.post(f"/api/v1/authorizations/{authorization_id}/check")
    assert checked.json()["status"] == "needs_reconnect"


async def _reconnect(
    api: httpx.AsyncClient, path: str, username: str, password: str | None = None
) -> httpx.Response:
    started = await api.post(path)
    assert started.status_code == 200, started.text
    callback = await consent(started.json()["authorize_url"], username, password)
    async with httpx.AsyncClient(timeout=30) as browser:
        return await browser.get(callback, headers={"Accept": "application/json"})


async def _counts(org: Org) -> dict[str, int]:
    return dict((await org.api.get("/api/v1/connections/counts")).json())


async def test_one_reconnect_restores_every_client_under_the_authorization(
    org: Org, tether: Tether
) -> None:
    authorization = await _mcc(org, tether)
    await _lapse(org, tether, authorization["id"])
    assert (await _counts(org))["needs_reconnect"] == 40
    async with tether.sessions() as session:
        before = await session.scalar(text("SELECT access_token FROM authorizations"))

    done = await _reconnect(
        org.api, f"/api/v1/authorizations/{authorization['id']}/reconnect", "mcc", "mcc-password"
    )

    assert done.status_code == 200, done.text
    assert done.json()["authorization_id"] == authorization["id"]
    assert "40 connections restored" in done.json()["message"]
    assert await _counts(org) == {
        "active": 40, "failing": 0, "needs_reconnect": 0, "disconnected": 0, "total": 40,
    }  # fmt: skip
    after = (await org.api.get(f"/api/v1/authorizations/{authorization['id']}")).json()
    assert (after["status"], after["role"], after["account_count"]) == ("active", "main", 50)
    async with tether.sessions() as session:
        assert await session.scalar(text("SELECT access_token FROM authorizations")) != before
    (incident,) = (await org.api.get("/api/v1/incidents")).json()["data"]
    assert (incident["closed_how"], incident["closed_at"] is not None) == ("reconnected", True)
    reconnected = (
        await org.api.get("/api/v1/audit", params={"action": "authorization.reconnected"})
    ).json()
    assert reconnected["data"][0]["actor"] == f"member:{org.admin_id}"


async def test_accounts_the_new_sign_in_cannot_reach_stay_lapsed_with_their_name(
    org: Org, tether: Tether
) -> None:
    authorization = await _mcc(org, tether, accounts=5, clients=5)
    await _lapse(org, tether, authorization["id"])
    accounts = (await org.api.get(f"/api/v1/authorizations/{authorization['id']}/accounts")).json()
    lost = accounts["data"][0]
    await tether.sandbox("DELETE", f"/users/mcc/accounts/{lost['external_id']}")

    done = await _reconnect(
        org.api, f"/api/v1/authorizations/{authorization['id']}/reconnect", "mcc", "mcc-password"
    )

    assert done.status_code == 200
    assert lost["name"] in done.json()["message"]
    rows = (await org.api.get("/api/v1/connections")).json()["data"]
    still = [r for r in rows if r["status"] == "needs_reconnect"]
    assert [r["account_external_id"] for r in still] == [lost["external_id"]]
    assert still[0]["reason"] == "access_removed"
    assert lost["name"] in still[0]["message"]
    assert sum(r["status"] == "active" for r in rows) == 4


async def test_signing_in_as_someone_who_reaches_none_of_it_changes_nothing(
    org: Org, tether: Tether
) -> None:
    authorization = await _mcc(org, tether, accounts=3, clients=3)
    await _lapse(org, tether, authorization["id"])
    async with tether.sessions() as session:
        before = await session.scalar(text("SELECT access_token FROM authorizations"))

    done = await _reconnect(
        org.api, f"/api/v1/authorizations/{authorization['id']}/reconnect", "carol"
    )

    assert done.status_code == 409
    message = done.json()["error"]["message"]
    assert "Carol" in message
    assert "Nothing was changed" in message
    assert (await _counts(org))["needs_reconnect"] == 3
    async with tether.sessions() as session:
        assert await session.scalar(text("SELECT access_token FROM authorizations")) == before


async def test_a_different_user_who_reaches_some_accounts_restores_those(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_sandbox(org.api, username="alice")
    alice = (await org.api.get(f"/api/v1/authorizations/{authorization['id']}/accounts")).json()[
        "data"
    ]
    bob = set((await tether.sandbox("GET", "/users/bob"))["accounts"])
    for account in alice:
        client = await org.client(f"For {account['name']}")
        await org.api.post(
            "/api/v1/connections", json={"client_id": client["id"], "account_id": account["id"]}
        )
    await _lapse(org, tether, authorization["id"], username="alice")

    done = await _reconnect(
        org.api, f"/api/v1/authorizations/{authorization['id']}/reconnect", "bob"
    )

    assert done.status_code == 200, done.text
    rows = (await org.api.get("/api/v1/connections")).json()["data"]
    for row in rows:
        expected = "active" if row["account_external_id"] in bob else "needs_reconnect"
        assert row["status"] == expected, row
    assert 0 < sum(r["status"] == "active" for r in rows) < len(rows)
