"""X Ads inside Tether, with the sandbox standing in for it: connect through X's consent page
with OAuth 1.0a, a token and a secret that never need renewing, the fault matrix, back-off until
X's reset, daily loads from stats jobs, a lost account, revocation."""

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import time_machine
from sqlalchemy import text

from tests.fixtures.builders import Org, connect_provider, consent, query_of
from tests.fixtures.platforms import accounts_of, check, incidents, seconds_after_now, stored
from tests.fixtures.running import Tether
from tether import vault
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import MetricDay
from tether.providers.x_ads import RESTATE_DAYS
from tether.sandbox import SandboxState
from tether.sandbox.dialects.x_api import x_id
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import SandboxAccount
from tether.sync import service


async def connect_x(org: Org, username: str = "alice") -> dict[str, Any]:
    """Connect X Ads through its consent page, as a member's browser would."""
    return await connect_provider(org.api, "x_ads", username=username)


async def sandbox_ids(tether: Tether, username: str = "alice") -> dict[str, str]:
    """The sandbox's ids of the user's accounts, by the base-36 id X names each by."""
    user = await tether.sandbox("GET", f"/users/{username}")
    return {x_id("account", number): number for number in user["accounts"]}


async def start(org: Org) -> str:
    started = await org.api.post("/api/v1/authorizations/oauth/start", json={"provider": "x_ads"})
    assert started.status_code == 200, started.text
    return str(started.json()["authorize_url"])


async def land(callback: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as browser:
        return await browser.get(callback, headers={"Accept": "application/json"})


async def test_connecting_x_finds_the_ad_accounts_and_keeps_a_sealed_token_secret(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_x(org)

    assert (authorization["provider"], authorization["status"]) == ("x_ads", "active")
    assert authorization["external_user_name"] == "Alice Martin"
    assert (authorization["expires_at"], authorization["refresh_expires_at"]) == (None, None)
    accounts = await accounts_of(org, authorization)
    assert sorted(a["external_id"] for a in accounts) == sorted(await sandbox_ids(tether))
    found = await stored(tether, authorization)
    assert found.refresh_token is None
    assert found.access_token is not None
    assert found.access_token_secret is not None
    secret = vault.reveal(found.access_token_secret)
    async with tether.sessions() as session:
        raw = (await session.execute(text("SELECT access_token_secret FROM authorizations"))).all()
    assert (found.access_token_secret.token,) in raw  # ciphertext only
    assert secret not in str(raw)
    assert (await check(org, authorization))["status"] == "active"


async def test_the_callback_is_one_tether_started_and_serves_once(org: Org) -> None:
    callback = await consent(await start(org))

    first = await land(callback)
    again = await land(callback)
    forged = await land(callback.replace("oauth_token=", "oauth_token=x"))

    assert first.status_code == 200, first.text
    assert again.status_code == 400
    assert "already completed" in again.json()["error"]["message"]
    assert forged.status_code == 400
    assert "not one Tether started" in forged.json()["error"]["message"]


async def test_a_refused_consent_connects_nothing(org: Org, tether: Tether) -> None:
    callback = await consent(await start(org), decision="deny")
    assert set(query_of(callback)) == {"denied"}

    finished = await land(callback)

    assert finished.status_code == 400
    assert finished.json()["error"] == {
        "code": "oauth_denied",
        "message": "Access was not granted on X Ads (denied); nothing was connected.",
    }
    assert (await org.api.get("/api/v1/authorizations")).json()["data"] == []
    assert await tether.sandbox("GET", "/grants", params={"username": "alice"}) == []


async def test_a_verifier_that_is_not_xs_is_refused_in_xs_words(org: Org, tether: Tether) -> None:
    back = query_of(await consent(await start(org)))
    callback = f"{tether.base_url}/oauth/callback?" + urlencode(
        {"oauth_token": back["oauth_token"], "oauth_verifier": "guessed"}
    )

    finished = await land(callback)

    assert finished.status_code == 400
    assert finished.json()["error"]["message"] == (
        "X Ads did not accept the sign-in: "
        "Error processing your OAuth request: Invalid oauth_verifier parameter"
    )


async def test_the_token_never_lapses_on_its_own_nor_warns_nor_refreshes(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_x(org)

    with time_machine.travel(utcnow() + timedelta(days=400), tick=True):
        checked = await check(org, authorization)

    assert checked["status"] == "active"
    assert await incidents(org, kind="expiring") == []
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["token_refresh"] == {"ok": 0, "failed": 0}
    assert (await stored(tether, authorization)).expires_at is None


@pytest.mark.parametrize(
    ("switch", "status", "reason", "words"),
    [
        ("/users/alice/grants/revoke", "needs_reconnect", "token_revoked", "Invalid or expired token."),  # noqa: E501
        # X has one answer for every dead token: expired and a changed password read as revoked.
        ("/users/alice/grants/expire", "needs_reconnect", "token_revoked", "Invalid or expired token."),  # noqa: E501
        ("/users/alice/password", "needs_reconnect", "token_revoked", "Invalid or expired token."),
        ("/faults", "failing", "provider_outage", "Internal error"),
    ],
)  # fmt: skip
async def test_each_sandbox_switch_gives_xs_reason_and_words_in_tether(
    org: Org, tether: Tether, switch: str, status: str, reason: str, words: str
) -> None:
    authorization = await connect_x(org)

    if switch == "/faults":
        await tether.sandbox("PUT", switch, json={"down": True})
    elif switch.endswith("password"):
        await tether.sandbox("POST", switch, json={"password": "a-new-one"})
    else:
        await tether.sandbox("POST", switch)
    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"], checked["message"]) == (status, reason, words)


async def test_a_throttled_check_backs_off_until_xs_reset(org: Org, tether: Tether) -> None:
    authorization = await connect_x(org)
    await tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 900})

    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == ("failing", "rate_limited")
    assert checked["message"] == "Rate limit exceeded"
    next_check = (await stored(tether, authorization)).next_check_at
    assert 900 - 10 <= seconds_after_now(next_check) <= 900 + 5  # x-rate-limit-reset, not sooner


async def test_daily_loads_have_xs_figures_and_restate_the_last_14_days(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_x(org)
    account = (await accounts_of(org, authorization))[0]
    connection_id = uuid.UUID((await org.connection(account))["id"])

    first = await service.sync_connection(engine, connection_id)
    with time_machine.travel(utcnow() + timedelta(days=1), tick=True):
        daily = await service.sync_connection(engine, connection_id)

    assert (first.outcome, first.days_loaded) == ("synced", 90)
    assert (daily.outcome, daily.days_loaded) == ("synced", RESTATE_DAYS)
    number = (await sandbox_ids(tether))[account["external_id"]]
    currency = SandboxState.seeded().accounts[number].currency
    platform = SandboxAccount(number, account["name"], currency)
    yesterday = utcnow().date() - timedelta(days=1)
    async with tether.sessions() as session:
        row = await session.get(MetricDay, (connection_id, yesterday))
    expected = day_metrics(platform, yesterday)
    assert row is not None
    assert (row.impressions, row.clicks, row.conversions) == (
        expected["impressions"],
        expected["clicks"],
        expected["conversions"],
    )
    assert str(row.spend) == expected["spend"]
    assert row.currency == currency  # the funding instrument's
    stats = await tether.sandbox("GET", "/stats")
    # Three 30-day loads, then one: active entities, a job per placement, one look each.
    assert stats["users"]["alice"]["metrics"] == {"ok": (3 + 1) * 4, "failed": 0}


async def test_a_lost_ad_account_lapses_its_connection_with_xs_words(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_x(org)
    account = (await accounts_of(org, authorization))[0]
    connection = await org.connection(account)
    number = (await sandbox_ids(tether))[account["external_id"]]
    await tether.sandbox("DELETE", f"/users/alice/accounts/{number}")

    result = await service.sync_connection(engine, uuid.UUID(connection["id"]))

    assert (result.outcome, result.reason) == ("failed", "access_removed")
    assert result.error == (
        f"Account {account['external_id']} was not found or the current user cannot access it."
    )
    rows = (await org.api.get("/api/v1/connections")).json()["data"]
    assert [(r["status"], r["reason"]) for r in rows] == [("needs_reconnect", "access_removed")]


async def test_deleting_the_authorization_invalidates_the_token_at_x(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_x(org)

    deleted = await org.api.delete(f"/api/v1/authorizations/{authorization['id']}")

    assert deleted.status_code == 204, deleted.text
    (grant,) = await tether.sandbox("GET", "/grants", params={"username": "alice"})
    assert grant["revoked_reason"] == "token_revoked"
    assert grant["refreshable"] is False
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["revoke"] == {"ok": 1, "failed": 0}
