"""Snapchat inside Tether, with the sandbox standing in for it: connect through its log-in, the
hour-long token refreshed ahead of its end for as long as the grant lives, the fault matrix
(a bare 401 and the refresh that says why), a throttle's wait, daily loads in each account's
time zone, a lost account, revocation."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from tests.fixtures.builders import Org, connect_provider
from tests.fixtures.platforms import accounts_of, check, incidents, seconds_after_now, stored
from tests.fixtures.running import Tether
from tether import vault
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import MetricDay
from tether.providers.snapchat_ads import ACCESS_SECONDS
from tether.sandbox.dialects.snapchat_api import snap_id
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import SandboxAccount
from tether.sync import service


async def connect_snapchat(org: Org, username: str = "alice") -> dict[str, Any]:
    """Connect Snapchat Ads through its log-in page, as a member's browser would."""
    return await connect_provider(org.api, "snapchat_ads", username=username)


async def sandbox_ids(tether: Tether, username: str = "alice") -> dict[str, str]:
    """The sandbox's ids of the user's accounts, by the UUID Snap names each by."""
    user = await tether.sandbox("GET", f"/users/{username}")
    return {snap_id("adaccount", number): number for number in user["accounts"]}


async def test_connecting_snapchat_keeps_the_hour_long_token_and_finds_the_ad_accounts(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_snapchat(org)

    assert (authorization["provider"], authorization["status"]) == ("snapchat_ads", "active")
    assert ACCESS_SECONDS - 120 < seconds_after_now(authorization["expires_at"]) <= ACCESS_SECONDS
    assert authorization["refresh_expires_at"] is None
    assert authorization["external_user_name"] == "Alice Martin"
    accounts = await accounts_of(org, authorization)
    assert sorted(a["external_id"] for a in accounts) == sorted(await sandbox_ids(tether))
    assert all(a["name"] and a["currency"] for a in accounts)
    assert (await stored(tether, authorization)).refresh_token is not None
    assert (await check(org, authorization))["status"] == "active"


async def test_the_hour_long_token_is_refreshed_ahead_for_as_long_as_the_grant_lives(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_snapchat(org)
    first = await stored(tether, authorization)
    assert first.refresh_token is not None
    window = timedelta(seconds=tether.settings.refresh_window_seconds)

    # Inside the refresh window before the hour ends, where the scheduler brings the check.
    with time_machine.travel(utcnow() + timedelta(hours=1) - window / 2, tick=True):
        assert (await check(org, authorization))["status"] == "active"
        renewed = await stored(tether, authorization)
        assert ACCESS_SECONDS - 120 < seconds_after_now(renewed.expires_at) <= ACCESS_SECONDS
    with time_machine.travel(utcnow() + timedelta(days=400), tick=True):
        a_year_on = await check(org, authorization)

    assert renewed.refresh_token is not None
    assert renewed.access_token is not None
    assert first.access_token is not None
    assert vault.reveal(renewed.refresh_token) == vault.reveal(first.refresh_token)
    assert vault.reveal(renewed.access_token) != vault.reveal(first.access_token)
    assert a_year_on["status"] == "active"
    assert await incidents(org, kind="expiring") == []
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["token_refresh"]["ok"] == 2


@pytest.mark.parametrize(
    ("switch", "status", "reason", "words"),
    [
        ("/users/alice/grants/revoke", "needs_reconnect", "token_revoked", "Invalid refresh"),
        ("/users/alice/grants/expire", "needs_reconnect", "token_expired", "has expired"),
        ("/users/alice/password", "needs_reconnect", "token_revoked", "Invalid refresh"),
        ("/users/alice/grants/expire-access", "active", None, None),
        ("/faults", "failing", "provider_outage", "something went wrong"),
    ],
)
async def test_each_sandbox_switch_gives_snaps_reason_and_words_in_tether(
    org: Org, tether: Tether, switch: str, status: str, reason: str | None, words: str | None
) -> None:
    authorization = await connect_snapchat(org)

    if switch == "/faults":
        await tether.sandbox("PUT", switch, json={"down": True})
    elif switch.endswith("password"):
        await tether.sandbox("POST", switch, json={"password": "a-new-one"})
    else:
        await tether.sandbox("POST", switch)
    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == (status, reason)
    assert words is None or words in checked["message"]


async def test_a_throttled_check_backs_off_as_long_as_snap_says(org: Org, tether: Tether) -> None:
    authorization = await connect_snapchat(org)
    await tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 900})

    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == ("failing", "rate_limited")
    assert checked["message"] == "Rate limit exceeded"
    next_check = (await stored(tether, authorization)).next_check_at
    assert 900 - 10 <= seconds_after_now(next_check) <= 900 + 5  # Retry-After, not sooner


async def test_daily_loads_have_snaps_figures_and_restate_the_last_28_days(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_snapchat(org)
    account = (await accounts_of(org, authorization))[0]
    connection_id = uuid.UUID((await org.connection(account))["id"])

    first = await service.sync_connection(engine, connection_id)
    with time_machine.travel(utcnow() + timedelta(days=1), tick=True):
        # The day's hourly checks have kept the token fresh; the last of them runs here.
        assert (await check(org, authorization))["status"] == "active"
        daily = await service.sync_connection(engine, connection_id)

    assert (first.outcome, first.days_loaded) == ("synced", 90)
    assert (daily.outcome, daily.days_loaded) == ("synced", 28)
    number = (await sandbox_ids(tether))[account["external_id"]]
    platform = SandboxAccount(number, account["name"], account["currency"])
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
    assert row.currency == account["currency"]


async def test_a_lost_ad_account_lapses_its_connection_with_snaps_words(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_snapchat(org)
    account = (await accounts_of(org, authorization))[0]
    connection = await org.connection(account)
    number = (await sandbox_ids(tether))[account["external_id"]]
    await tether.sandbox("DELETE", f"/users/alice/accounts/{number}")

    result = await service.sync_connection(engine, uuid.UUID(connection["id"]))

    assert (result.outcome, result.reason) == ("failed", "access_removed")
    assert result.error is not None
    assert "requested resource is not available" in result.error
    rows = (await org.api.get("/api/v1/connections")).json()["data"]
    assert [(r["status"], r["reason"]) for r in rows] == [("needs_reconnect", "access_removed")]


async def test_deleting_the_authorization_revokes_it_at_snap(org: Org, tether: Tether) -> None:
    authorization = await connect_snapchat(org)

    deleted = await org.api.delete(f"/api/v1/authorizations/{authorization['id']}")

    assert deleted.status_code == 204, deleted.text
    (grant,) = await tether.sandbox("GET", "/grants", params={"username": "alice"})
    assert grant["revoked_reason"] == "token_revoked"
