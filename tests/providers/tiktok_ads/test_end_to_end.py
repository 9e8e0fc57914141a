"""TikTok inside Tether, with the sandbox standing in for it: connect through the authorization
page, a long-term token that never needs renewing, the fault matrix, back-off, daily loads."""

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import time_machine

from tests.fixtures.builders import Org, connect_provider, consent, query_of
from tests.fixtures.platforms import accounts_of, check, incidents, stored
from tests.fixtures.running import Tether
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import MetricDay
from tether.providers.tiktok_ads import APP_THROTTLE_SECONDS, RESTATE_DAYS
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import SandboxAccount
from tether.sync import service


async def connect_tiktok(org: Org, username: str = "alice") -> dict[str, Any]:
    """Connect TikTok Ads through its authorization page, as a member's browser would."""
    return await connect_provider(org.api, "tiktok_ads", username=username)


async def test_connecting_tiktok_finds_the_advertisers_and_keeps_a_token_with_no_end(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_tiktok(org)

    assert (authorization["provider"], authorization["status"]) == ("tiktok_ads", "active")
    assert authorization["external_user_name"] == "Alice Martin"
    assert (authorization["expires_at"], authorization["refresh_expires_at"]) == (None, None)
    accounts = await accounts_of(org, authorization)
    alice = await tether.sandbox("GET", "/users/alice")
    assert sorted(a["external_id"] for a in accounts) == sorted(alice["accounts"])
    assert all(a["currency"] for a in accounts)
    assert (await stored(tether, authorization)).refresh_token is None
    assert (await check(org, authorization))["status"] == "active"


async def test_a_redirect_carrying_only_auth_code_still_connects(org: Org, tether: Tether) -> None:
    started = await org.api.post(
        "/api/v1/authorizations/oauth/start", json={"provider": "tiktok_ads"}
    )
    back = query_of(await consent(started.json()["authorize_url"]))
    callback = f"{tether.base_url}/oauth/callback?" + urlencode(
        {"auth_code": back["auth_code"], "state": back["state"]}
    )

    async with httpx.AsyncClient(timeout=30) as browser:
        finished = await browser.get(callback, headers={"Accept": "application/json"})

    assert finished.status_code == 200, finished.text
    authorization_id = finished.json()["authorization_id"]
    found = (await org.api.get(f"/api/v1/authorizations/{authorization_id}")).json()
    assert (found["provider"], found["status"]) == ("tiktok_ads", "active")


async def test_a_cancelled_authorization_connects_nothing(org: Org, tether: Tether) -> None:
    started = await org.api.post(
        "/api/v1/authorizations/oauth/start", json={"provider": "tiktok_ads"}
    )
    callback = await consent(started.json()["authorize_url"], decision="deny")

    async with httpx.AsyncClient(timeout=30) as browser:
        finished = await browser.get(callback, headers={"Accept": "application/json"})

    assert finished.status_code == 400
    assert "sent no authorization code" in finished.json()["error"]["message"]
    assert (await org.api.get("/api/v1/authorizations")).json()["data"] == []


async def test_the_token_never_lapses_on_its_own_nor_warns_nor_refreshes(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_tiktok(org)

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
        ("/users/alice/grants/revoke", "needs_reconnect", "token_revoked", "has been revoked"),
        ("/users/alice/grants/expire", "needs_reconnect", "token_expired", "has expired"),
        # TikTok has one code for every dead token: a changed password reads as revoked.
        ("/users/alice/password", "needs_reconnect", "token_revoked", "has been revoked"),
        ("/faults", "failing", "provider_outage", "System error."),
    ],
)
async def test_each_sandbox_switch_gives_tiktoks_reason_and_words_in_tether(
    org: Org, tether: Tether, switch: str, status: str, reason: str, words: str
) -> None:
    authorization = await connect_tiktok(org)

    if switch == "/faults":
        await tether.sandbox("PUT", switch, json={"down": True})
    elif switch.endswith("password"):
        await tether.sandbox("POST", switch, json={"password": "a-new-one"})
    else:
        await tether.sandbox("POST", switch)
    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == (status, reason)
    assert words in checked["message"]


async def test_a_throttled_check_backs_off_tiktoks_documented_5_minutes(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_tiktok(org)
    # TikTok says no wait, whatever the switch asks for: its guide's 5 minutes are waited.
    await tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 30})

    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == ("failing", "rate_limited")
    assert checked["message"] == "Requests made too frequently."
    next_check_at = (await stored(tether, authorization)).next_check_at
    assert next_check_at is not None
    wait = (next_check_at - utcnow()).total_seconds()
    assert APP_THROTTLE_SECONDS - 10 <= wait <= APP_THROTTLE_SECONDS + 60


async def test_daily_loads_have_tiktoks_figures_and_restate_the_last_29_days(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_tiktok(org)
    account = (await accounts_of(org, authorization))[0]
    connection_id = uuid.UUID((await org.connection(account))["id"])

    first = await service.sync_connection(engine, connection_id)
    with time_machine.travel(utcnow() + timedelta(days=1), tick=True):
        daily = await service.sync_connection(engine, connection_id)

    assert (first.outcome, first.days_loaded) == ("synced", 90)
    assert (daily.outcome, daily.days_loaded) == ("synced", RESTATE_DAYS)
    platform = SandboxAccount(account["external_id"], account["name"], account["currency"])
    yesterday = utcnow().date() - timedelta(days=1)
    async with tether.sessions() as session:
        loaded = await session.get(MetricDay, (connection_id, yesterday))
    expected = day_metrics(platform, yesterday)
    assert loaded is not None
    assert (loaded.impressions, loaded.clicks, loaded.conversions) == (
        expected["impressions"],
        expected["clicks"],
        expected["conversions"],
    )
    assert str(loaded.spend) == expected["spend"]
    assert loaded.currency == account["currency"]
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["metrics"] == {"ok": 3 + 1, "failed": 0}  # 30 days a call


async def test_a_lost_advertiser_lapses_its_connection_with_tiktoks_words(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_tiktok(org)
    account = (await accounts_of(org, authorization))[0]
    connection = await org.connection(account)
    await tether.sandbox("DELETE", f"/users/alice/accounts/{account['external_id']}")

    result = await service.sync_connection(engine, uuid.UUID(connection["id"]))

    assert (result.outcome, result.reason) == ("failed", "access_removed")
    assert result.error == f"No permission to operate advertiser {account['external_id']}."
    rows = (await org.api.get("/api/v1/connections")).json()["data"]
    assert [(r["status"], r["reason"]) for r in rows] == [("needs_reconnect", "access_removed")]


async def test_deleting_the_authorization_revokes_the_token_at_tiktok(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_tiktok(org)

    deleted = await org.api.delete(f"/api/v1/authorizations/{authorization['id']}")

    assert deleted.status_code == 204, deleted.text
    (grant,) = await tether.sandbox("GET", "/grants", params={"username": "alice"})
    assert grant["revoked_reason"] == "token_revoked"
    assert grant["refreshable"] is False
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["revoke"] == {"ok": 1, "failed": 0}
