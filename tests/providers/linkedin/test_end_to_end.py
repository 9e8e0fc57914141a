"""LinkedIn inside Tether, with the sandbox standing in for it: connect through its sign-in,
the 60-day token refreshed ahead of its end, the warning ahead of the refresh token's 365th
day, the fault matrix, the daily reset of a throttle, daily loads, revocation."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from tests.fixtures.builders import Org, connect_provider
from tests.fixtures.platforms import accounts_of, check, incidents, seconds_after_now, stored
from tests.fixtures.running import Tether
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import MetricDay
from tether.providers.linkedin_ads import ACCESS_SECONDS, REFRESH_SECONDS, seconds_to_reset
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import SandboxAccount
from tether.sync import service


async def connect_linkedin(org: Org, username: str = "alice") -> dict[str, Any]:
    """Connect LinkedIn Ads through its sign-in page, as a member's browser would."""
    return await connect_provider(org.api, "linkedin_ads", username=username)


async def test_connecting_linkedin_keeps_both_ends_and_finds_the_ad_accounts(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_linkedin(org)

    assert (authorization["provider"], authorization["status"]) == ("linkedin_ads", "active")
    assert ACCESS_SECONDS - 120 < seconds_after_now(authorization["expires_at"]) <= ACCESS_SECONDS
    refresh_left = seconds_after_now(authorization["refresh_expires_at"])
    assert REFRESH_SECONDS - 120 < refresh_left <= REFRESH_SECONDS
    assert authorization["external_user_name"] == "Alice Martin"
    accounts = await accounts_of(org, authorization)
    alice = await tether.sandbox("GET", "/users/alice")
    assert sorted(a["external_id"] for a in accounts) == sorted(alice["accounts"])
    assert all(a["name"] and a["currency"] for a in accounts)
    assert (await stored(tether, authorization)).refresh_token is not None
    assert (await check(org, authorization))["status"] == "active"


async def test_the_60_day_token_is_refreshed_ahead_and_the_365th_day_is_warned_of(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_linkedin(org)
    ends = (await stored(tether, authorization)).refresh_expires_at
    days = tether.settings.expiring_warning_days

    window = timedelta(seconds=tether.settings.refresh_window_seconds)
    # Inside the refresh window before the 60th day, where the scheduler brings the check.
    with time_machine.travel(utcnow() + timedelta(days=60) - window / 2, tick=True):
        assert (await check(org, authorization))["status"] == "active"
        renewed = await stored(tether, authorization)
        assert ACCESS_SECONDS - 120 < seconds_after_now(renewed.expires_at) <= ACCESS_SECONDS
        assert renewed.refresh_expires_at is not None
        assert ends is not None
        assert abs((renewed.refresh_expires_at - ends).total_seconds()) < 5
    assert await incidents(org, kind="expiring") == []

    with time_machine.travel(utcnow() + timedelta(days=365 - days + 1), tick=True):
        await check(org, authorization)
        await check(org, authorization)
    (warning,) = await incidents(org, kind="expiring", state="open")
    assert "LinkedIn Ads" in warning["message"]
    assert "cannot be renewed" in warning["message"]

    # Past the year and the last access token refreshed before it: nothing renews it now.
    with time_machine.travel(utcnow() + timedelta(days=365 + 61), tick=True):
        lapsed = await check(org, authorization)
    assert (lapsed["status"], lapsed["reason"]) == ("needs_reconnect", "token_expired")
    assert "invalid, expired or revoked" in lapsed["message"]
    assert (await incidents(org, kind="expiring"))[0]["closed_how"] == "lapsed"


@pytest.mark.parametrize(
    ("switch", "status", "reason", "words"),
    [
        ("/users/alice/grants/revoke", "needs_reconnect", "token_revoked", "revoked by the user"),
        ("/users/alice/grants/expire", "needs_reconnect", "token_expired", "expired or revoked"),
        ("/users/alice/password", "needs_reconnect", "token_revoked", "revoked by the user"),
        ("/faults", "failing", "provider_outage", "Service Unavailable"),
    ],
)
async def test_each_sandbox_switch_gives_linkedins_reason_and_words_in_tether(
    org: Org, tether: Tether, switch: str, status: str, reason: str, words: str
) -> None:
    authorization = await connect_linkedin(org)

    if switch == "/faults":
        await tether.sandbox("PUT", switch, json={"down": True})
    elif switch.endswith("password"):
        await tether.sandbox("POST", switch, json={"password": "a-new-one"})
    else:
        await tether.sandbox("POST", switch)
    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == (status, reason)
    assert words in checked["message"]


async def test_a_throttled_check_waits_for_linkedins_daily_reset(org: Org, tether: Tether) -> None:
    authorization = await connect_linkedin(org)
    await tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 60})

    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == ("failing", "rate_limited")
    assert checked["message"].startswith("Resource level throttle limit")
    next_check = (await stored(tether, authorization)).next_check_at
    assert next_check is not None
    assert seconds_after_now(next_check) >= seconds_to_reset(utcnow()) - 10  # midnight UTC


async def test_daily_loads_have_linkedins_figures_and_restate_the_last_30_days(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_linkedin(org)
    account = (await accounts_of(org, authorization))[0]
    connection_id = uuid.UUID((await org.connection(account))["id"])

    first = await service.sync_connection(engine, connection_id)
    with time_machine.travel(utcnow() + timedelta(days=1), tick=True):
        daily = await service.sync_connection(engine, connection_id)

    assert (first.outcome, first.days_loaded) == ("synced", 90)
    assert (daily.outcome, daily.days_loaded) == ("synced", 30)
    platform = SandboxAccount(account["external_id"], account["name"], account["currency"])
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
    assert row.currency == account["currency"]  # the account's, as LinkedIn reports in it


async def test_a_lost_ad_account_lapses_its_connection_with_linkedins_words(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_linkedin(org)
    account = (await accounts_of(org, authorization))[0]
    connection = await org.connection(account)
    await tether.sandbox("DELETE", f"/users/alice/accounts/{account['external_id']}")

    result = await service.sync_connection(engine, uuid.UUID(connection["id"]))

    assert (result.outcome, result.reason) == ("failed", "access_removed")
    assert result.error is not None
    assert "Not enough permissions" in result.error
    rows = (await org.api.get("/api/v1/connections")).json()["data"]
    assert [(r["status"], r["reason"]) for r in rows] == [("needs_reconnect", "access_removed")]


async def test_deleting_the_authorization_revokes_it_at_linkedin(org: Org, tether: Tether) -> None:
    authorization = await connect_linkedin(org)

    deleted = await org.api.delete(f"/api/v1/authorizations/{authorization['id']}")

    assert deleted.status_code == 204, deleted.text
    (grant,) = await tether.sandbox("GET", "/grants", params={"username": "alice"})
    assert grant["revoked_reason"] == "token_revoked"
