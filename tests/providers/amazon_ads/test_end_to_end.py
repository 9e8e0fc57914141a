"""Amazon Ads inside Tether, with the sandbox standing in for it: connect through Login with
Amazon's page, the hour-long token refreshed ahead with its rotated refresh token stored at
once, the fault matrix (a 401 that does not say why, then the refresh that does), a throttle's
wait, daily loads from the asynchronous reports restating 35 days, a lost profile, and deletion
with nothing to revoke."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import update

from tests.fixtures.builders import Org, connect_provider
from tests.fixtures.platforms import accounts_of, check, incidents, seconds_after_now, stored
from tests.fixtures.running import Tether
from tether import vault
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import MetricDay
from tether.providers.amazon_ads import ACCESS_SECONDS
from tether.sandbox.dialects.amazon_api import profile_id
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import SandboxAccount
from tether.sync import service

REFRESH_REFUSED = "The request has an invalid grant parameter : refresh_token"


async def connect_amazon(org: Org, username: str = "alice") -> dict[str, Any]:
    """Connect Amazon Ads through Login with Amazon's page, as a member's browser would."""
    return await connect_provider(org.api, "amazon_ads", username=username)


async def sandbox_ids(tether: Tether, username: str = "alice") -> dict[str, str]:
    """The sandbox's ids of the user's accounts, by the profile id Amazon names each by."""
    user = await tether.sandbox("GET", f"/users/{username}")
    return {str(profile_id(number)): number for number in user["accounts"]}


async def test_connecting_amazon_keeps_the_hour_long_token_and_finds_the_profiles(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_amazon(org)

    assert (authorization["provider"], authorization["status"]) == ("amazon_ads", "active")
    assert ACCESS_SECONDS - 120 < seconds_after_now(authorization["expires_at"]) <= ACCESS_SECONDS
    assert authorization["refresh_expires_at"] is None
    assert authorization["external_user_name"] == "Alice Martin"
    accounts = await accounts_of(org, authorization)
    assert sorted(a["external_id"] for a in accounts) == sorted(await sandbox_ids(tether))
    assert all(a["name"].endswith(")") and a["currency"] for a in accounts)
    assert {a["manager_external_id"] for a in accounts} == {"NA", "EU"}
    assert (await stored(tether, authorization)).refresh_token is not None
    assert (await check(org, authorization))["status"] == "active"


async def test_the_hour_long_token_is_refreshed_ahead_and_each_new_refresh_token_kept_at_once(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_amazon(org)
    first = await stored(tether, authorization)
    assert first.refresh_token is not None
    window = timedelta(seconds=tether.settings.refresh_window_seconds)
    start = utcnow()

    # Inside the refresh window before the hour ends, where the scheduler brings the check.
    with time_machine.travel(start + timedelta(hours=1) - window / 2, tick=True):
        assert (await check(org, authorization))["status"] == "active"
        renewed = await stored(tether, authorization)
        assert ACCESS_SECONDS - 120 < seconds_after_now(renewed.expires_at) <= ACCESS_SECONDS
    # The next hour's refresh presents the stored successor; a year on the grant lives.
    with time_machine.travel(start + timedelta(hours=2) - window / 2, tick=True):
        assert (await check(org, authorization))["status"] == "active"
    with time_machine.travel(start + timedelta(days=400), tick=True):
        a_year_on = await check(org, authorization)
        last = await stored(tether, authorization)

    assert renewed.refresh_token is not None
    assert last.refresh_token is not None
    kept = {
        vault.reveal(t) for t in (first.refresh_token, renewed.refresh_token, last.refresh_token)
    }
    assert len(kept) == 3  # a new refresh token on every refresh, each one stored
    assert a_year_on["status"] == "active"
    assert await incidents(org, kind="expiring") == []
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["token_refresh"] == {"ok": 3, "failed": 0}


@pytest.mark.parametrize(
    ("switch", "status", "reason", "words"),
    [
        # Login with Amazon says one thing of every dead grant: it reads as revoked.
        ("/users/alice/grants/revoke", "needs_reconnect", "token_revoked", REFRESH_REFUSED),
        ("/users/alice/grants/expire", "needs_reconnect", "token_revoked", REFRESH_REFUSED),
        ("/users/alice/password", "needs_reconnect", "token_revoked", REFRESH_REFUSED),
        ("/users/alice/grants/expire-access", "active", None, None),
        ("/faults", "failing", "provider_outage", "Something went wrong on the server"),
    ],
)
async def test_each_sandbox_switch_gives_amazons_reason_and_words_in_tether(
    org: Org, tether: Tether, switch: str, status: str, reason: str | None, words: str | None
) -> None:
    authorization = await connect_amazon(org)

    if switch == "/faults":
        await tether.sandbox("PUT", switch, json={"down": True})
    elif switch.endswith("password"):
        await tether.sandbox("POST", switch, json={"password": "a-new-one"})
    else:
        await tether.sandbox("POST", switch)
    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == (status, reason)
    assert words is None or words in checked["message"]


async def test_a_throttled_check_backs_off_as_long_as_amazon_says(org: Org, tether: Tether) -> None:
    authorization = await connect_amazon(org)
    await tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 900})

    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == ("failing", "rate_limited")
    assert checked["message"] == "Too Many Requests"
    next_check = (await stored(tether, authorization)).next_check_at
    assert 900 - 10 <= seconds_after_now(next_check) <= 900 + 5  # Retry-After, not sooner


async def test_daily_loads_have_amazons_figures_and_restate_the_last_35_days(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_amazon(org)
    account = (await accounts_of(org, authorization))[0]
    connection_id = uuid.UUID((await org.connection(account))["id"])
    yesterday = utcnow().date() - timedelta(days=1)

    first = await service.sync_connection(engine, connection_id)
    async with tether.sessions() as session:
        await session.execute(
            update(MetricDay)
            .where(MetricDay.connection_id == connection_id, MetricDay.day == yesterday)
            .values(impressions=-1)
        )
        await session.commit()
    with time_machine.travel(utcnow() + timedelta(days=1), tick=True):
        # The day's hourly checks have kept the token fresh; the last of them runs here.
        assert (await check(org, authorization))["status"] == "active"
        daily = await service.sync_connection(engine, connection_id)

    assert (first.outcome, first.days_loaded) == ("synced", 90)
    assert (daily.outcome, daily.days_loaded) == ("synced", 35)
    number = (await sandbox_ids(tether))[account["external_id"]]
    platform = SandboxAccount(number, account["name"], account["currency"])
    async with tether.sessions() as session:
        row = await session.get(MetricDay, (connection_id, yesterday))
    expected = day_metrics(platform, yesterday)
    assert row is not None
    assert (row.impressions, row.clicks, row.conversions) == (
        expected["impressions"],  # restated over the day changed since
        expected["clicks"],
        expected["conversions"],
    )
    assert str(row.spend) == expected["spend"]
    assert row.currency == account["currency"]


async def test_a_lost_profile_lapses_its_connection_with_amazons_words(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_amazon(org)
    account = (await accounts_of(org, authorization))[0]
    connection = await org.connection(account)
    number = (await sandbox_ids(tether))[account["external_id"]]
    await tether.sandbox("DELETE", f"/users/alice/accounts/{number}")

    result = await service.sync_connection(engine, uuid.UUID(connection["id"]))

    assert (result.outcome, result.reason) == ("failed", "access_removed")
    assert result.error == f"Not authorized to access scope {account['external_id']}"
    rows = (await org.api.get("/api/v1/connections")).json()["data"]
    assert [(r["status"], r["reason"]) for r in rows] == [("needs_reconnect", "access_removed")]


async def test_deleting_the_authorization_leaves_the_grant_to_the_advertiser_at_amazon(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_amazon(org)

    deleted = await org.api.delete(f"/api/v1/authorizations/{authorization['id']}")

    assert deleted.status_code == 204, deleted.text
    # Login with Amazon has no revocation: nothing was asked, the grant is untouched.
    (grant,) = await tether.sandbox("GET", "/grants", params={"username": "alice"})
    assert (grant["revoked_reason"], grant["refreshable"]) == (None, True)
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["revoke"] == {"ok": 0, "failed": 0}
