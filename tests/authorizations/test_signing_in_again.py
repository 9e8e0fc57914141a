"""Signing in again as the platform user a data source already belongs to renews it in place."""

from typing import Any

import httpx

from tests.conftest import Tether
from tests.fixtures.builders import Org, connect_sandbox, consent, sign_in_through


async def _sandbox_authorizations(org: Org) -> list[dict[str, Any]]:
    listed = await org.api.get("/api/v1/authorizations", params={"provider": "sandbox"})
    return list(listed.json()["data"])


async def _connect(org: Org, client_name: str, authorization_id: str, external_id: str) -> str:
    client = await org.client(client_name)
    body = {"client_id": client["id"], "provider": "sandbox", "external_id": external_id}
    made = await org.api.post("/api/v1/connections", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["authorization_id"] == authorization_id
    return str(made.json()["id"])


async def test_the_same_user_signing_in_again_renews_the_data_source(
    org: Org, tether: Tether
) -> None:
    first = await connect_sandbox(org.api, username="alice")

    again = await sign_in_through(org.api, body={"provider": "sandbox"}, username="alice")

    assert again == first["id"]
    listed = await _sandbox_authorizations(org)
    assert [(a["id"], a["role"], a["status"]) for a in listed] == [(first["id"], "main", "active")]
    # The renewed authorization holds the newest grant: revoking the older one changes nothing.
    grants = await tether.sandbox("GET", "/grants", params={"username": "alice"})
    assert len(grants) == 2
    await tether.sandbox("POST", f"/grants/{grants[0]['id']}/revoke")
    checked = await org.api.post(f"/api/v1/authorizations/{first['id']}/check")
    assert checked.json()["status"] == "active"


async def test_signing_in_again_after_a_lapse_restores_every_client(
    org: Org, tether: Tether
) -> None:
    first = await connect_sandbox(org.api, username="alice")
    accounts = (await org.api.get(f"/api/v1/authorizations/{first['id']}/accounts")).json()
    shared = accounts["data"][0]["external_id"]
    ids = [await _connect(org, name, first["id"], shared) for name in ("North", "South")]
    await tether.sandbox("POST", "/users/alice/grants/revoke")
    lapsed = await org.api.post(f"/api/v1/authorizations/{first['id']}/check")
    assert lapsed.json()["status"] == "needs_reconnect"

    started = await org.api.post("/api/v1/authorizations/oauth/start", json={"provider": "sandbox"})
    callback = await consent(started.json()["authorize_url"], "alice")
    async with httpx.AsyncClient(timeout=30) as browser:
        finished = await browser.get(callback, headers={"Accept": "application/json"})

    assert finished.status_code == 200, finished.text
    assert finished.json()["message"] == (
        "Sandbox Ads was already connected as Alice Martin: its sign-in is renewed, not added "
        "twice. 2 connections restored."
    )
    assert [a["id"] for a in await _sandbox_authorizations(org)] == [first["id"]]
    for connection_id in ids:
        connection = (await org.api.get(f"/api/v1/connections/{connection_id}")).json()
        assert connection["status"] == "active"
    incidents = (await org.api.get("/api/v1/incidents", params={"state": "open"})).json()
    assert incidents["data"] == []


async def test_another_user_signing_in_is_a_second_data_source(org: Org) -> None:
    first = await connect_sandbox(org.api, username="alice")

    second = await connect_sandbox(org.api, username="bob")

    roles = {a["id"]: a["role"] for a in await _sandbox_authorizations(org)}
    assert roles == {first["id"]: "secondary", second["id"]: "main"}


async def test_staff_who_see_only_some_clients_add_their_own_data_source(
    org: Org, tether: Tether
) -> None:
    first = await connect_sandbox(org.api, username="alice")
    accounts = (await org.api.get(f"/api/v1/authorizations/{first['id']}/accounts")).json()
    await _connect(org, "Theirs", first["id"], accounts["data"][0]["external_id"])
    mine = await org.client("Mine")
    staff = await org.member("staff", clients=[mine["id"]])

    again = await sign_in_through(staff, body={"provider": "sandbox"}, username="alice")

    assert again != first["id"]  # the admin's data source serves a client staff cannot see
    assert len(await _sandbox_authorizations(org)) == 2


async def test_the_same_api_key_user_again_renews_with_200(org: Org, tether: Tether) -> None:
    users = await tether.sandbox("GET", "/users")
    key = next(u for u in users if u["username"] == "carol")["api_key"]
    body = {"provider": "sandbox_api_key", "api_key": key}

    created = await org.api.post("/api/v1/authorizations", json=body)
    renewed = await org.api.post("/api/v1/authorizations", json=body)

    assert (created.status_code, renewed.status_code) == (201, 200)
    assert renewed.json()["id"] == created.json()["id"]
    listed = await org.api.get("/api/v1/authorizations", params={"provider": "sandbox_api_key"})
    assert listed.json()["total"] == 1
