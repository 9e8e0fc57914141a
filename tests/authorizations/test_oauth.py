"""Connecting Sandbox Ads through the real OAuth2 + PKCE dance, over HTTP."""

import httpx
import time_machine
from sqlalchemy import text

from tests.conftest import Tether
from tests.fixtures.builders import Org, connect_sandbox, consent, pkce_pair, query_of
from tether.db import utcnow


async def test_connecting_stores_the_grant_and_discovers_its_accounts(org: Org) -> None:
    authorization = await connect_sandbox(org.api)

    assert authorization["provider"] == "sandbox"
    assert authorization["status"] == "active"
    assert authorization["role"] == "main"
    assert authorization["external_user_id"] == "u_alice"
    assert authorization["connector"]["id"] == str(org.admin_id)
    accounts = await org.api.get(f"/api/v1/authorizations/{authorization['id']}/accounts")
    assert accounts.status_code == 200
    names = [a["name"] for a in accounts.json()["data"]]
    assert len(names) == authorization["account_count"] > 0
    assert names == sorted(names)


async def test_the_authorize_url_carries_state_and_an_s256_challenge(org: Org) -> None:
    started = await org.api.post("/api/v1/authorizations/oauth/start", json={"provider": "sandbox"})

    query = query_of(started.json()["authorize_url"])
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32
    assert len(query["code_challenge"]) == 43


async def test_tokens_are_stored_encrypted(org: Org, tether: Tether) -> None:
    await connect_sandbox(org.api)

    async with tether.sessions() as session:
        row = (
            await session.execute(text("SELECT access_token, refresh_token FROM authorizations"))
        ).one()
    assert all(value.startswith("v1.t1.") for value in row)
    grants = await tether.sandbox("GET", "/grants", params={"username": "alice"})
    assert len(grants) == 1


async def test_a_new_authorization_becomes_main_and_the_older_secondary(org: Org) -> None:
    first = await connect_sandbox(org.api, username="alice")
    second = await connect_sandbox(org.api, username="bob")

    listed = (await org.api.get("/api/v1/authorizations", params={"provider": "sandbox"})).json()
    roles = {a["id"]: a["role"] for a in listed["data"]}
    assert roles == {first["id"]: "secondary", second["id"]: "main"}


async def test_a_denied_consent_connects_nothing(org: Org) -> None:
    started = await org.api.post("/api/v1/authorizations/oauth/start", json={"provider": "sandbox"})
    callback = await consent(started.json()["authorize_url"], decision="deny")

    async with httpx.AsyncClient() as browser:
        page = await browser.get(callback)
    assert page.status_code == 400
    assert "Nothing was connected" in page.text
    assert (await org.api.get("/api/v1/authorizations")).json()["total"] == 0


async def test_a_replayed_callback_is_refused(org: Org) -> None:
    started = await org.api.post("/api/v1/authorizations/oauth/start", json={"provider": "sandbox"})
    callback = await consent(started.json()["authorize_url"])
    async with httpx.AsyncClient() as browser:
        first = await browser.get(callback, headers={"Accept": "application/json"})
        replay = await browser.get(callback, headers={"Accept": "application/json"})

    assert first.status_code == 200
    assert replay.status_code == 400
    assert "already completed" in replay.json()["error"]["message"]
    assert (await org.api.get("/api/v1/authorizations")).json()["total"] == 1


async def test_an_unknown_state_is_refused(org: Org, tether: Tether) -> None:
    async with httpx.AsyncClient() as browser:
        forged = await browser.get(
            f"{tether.base_url}/oauth/callback",
            params={"state": "forged", "code": "x"},
            headers={"Accept": "application/json"},
        )
        missing = await browser.get(f"{tether.base_url}/oauth/callback")

    assert forged.status_code == 400
    assert "not one Tether started" in forged.json()["error"]["message"]
    assert missing.status_code == 400
    assert (await org.api.get("/api/v1/authorizations")).json()["total"] == 0


async def test_a_state_older_than_its_lifetime_is_refused(org: Org) -> None:
    started = await org.api.post("/api/v1/authorizations/oauth/start", json={"provider": "sandbox"})
    callback = await consent(started.json()["authorize_url"])

    with time_machine.travel(utcnow().timestamp() + 3600, tick=True):
        async with httpx.AsyncClient() as browser:
            late = await browser.get(callback, headers={"Accept": "application/json"})

    assert late.status_code == 400
    assert "expired" in late.json()["error"]["message"]


async def test_a_code_without_its_verifier_is_refused_by_the_provider(tether: Tether) -> None:
    # Tether always sends the verifier; the sandbox proves a code alone is worthless.

    verifier, challenge = pkce_pair()
    redirect = "http://127.0.0.1/cb"
    authorize = httpx.URL(
        f"{tether.sandbox_url}/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": "tether",
            "redirect_uri": redirect,
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    code = query_of(await consent(str(authorize)))["code"]
    async with httpx.AsyncClient() as http:
        refused = await http.post(
            f"{tether.sandbox_url}/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect,
                "client_id": "tether",
                "client_secret": "tether-sandbox-secret",
            },
        )
    assert refused.status_code == 400
    assert refused.json()["error"] in ("invalid_request", "invalid_grant")
    assert verifier


async def test_oauth_start_refuses_unknown_providers_and_api_key_tools(org: Org) -> None:
    unknown = await org.api.post("/api/v1/authorizations/oauth/start", json={"provider": "myspace"})
    api_key = await org.api.post(
        "/api/v1/authorizations/oauth/start", json={"provider": "sandbox_api_key"}
    )

    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_provider"
    assert api_key.status_code == 422
    assert api_key.json()["error"]["code"] == "wrong_auth_kind"


async def test_oauth_start_refuses_a_return_to_outside_tether(org: Org) -> None:
    # Browsers' own spellings of another site: tests/web/test_page_security.py.
    response = await org.api.post(
        "/api/v1/authorizations/oauth/start",
        json={"provider": "sandbox", "return_to": "https://evil.example.com/"},
    )

    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"field": "return_to", "problem": "must be a path in Tether, like /connections"}
    ]


async def test_viewers_cannot_connect_data_sources(org: Org) -> None:
    viewer = await org.member("viewer")

    response = await viewer.post("/api/v1/authorizations/oauth/start", json={"provider": "sandbox"})

    assert response.status_code == 403
    assert "Viewers" in response.json()["error"]["message"]
