"""Microsoft Advertising inside Tether, with the sandbox standing in for it: connect through the
consent page, the hourly token refreshed ahead so the 90-day idle end keeps moving, the
*expiring* warning when refreshing keeps failing, the fault matrix (109, then the refresh's
AADSTS code), a throttle's minute, daily loads with restatement, a lost account, and deletion
without revocation."""

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import update

from tests.fixtures.builders import Org, connect_provider
from tests.fixtures.platforms import accounts_of, check, incidents, stored
from tests.fixtures.running import Tether
from tether import vault
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import MetricDay
from tether.providers.microsoft_ads import ACCESS_SECONDS, IDLE_SECONDS
from tether.sandbox.dialects.microsoft_api import customer_id
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import SandboxAccount
from tether.sync import service


async def connect_microsoft(org: Org, username: str = "alice") -> dict[str, Any]:
    """Connect Microsoft Advertising through its consent page, as a member's browser would."""
    return await connect_provider(org.api, "microsoft_ads", username=username)


def seconds_until(moment: str | datetime | None) -> float:
    assert moment is not None
    ends = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return (ends - utcnow()).total_seconds()


def platform(account: dict[str, Any]) -> SandboxAccount:
    """The sandbox's own account behind one Tether lists."""
    return SandboxAccount(account["external_id"], account["name"], account["currency"])


async def test_connecting_microsoft_keeps_the_hour_and_the_idle_end_and_finds_every_account(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_microsoft(org)

    assert (authorization["provider"], authorization["status"]) == ("microsoft_ads", "active")
    assert authorization["external_user_name"] == "Alice Martin"
    assert ACCESS_SECONDS - 120 < seconds_until(authorization["expires_at"]) <= ACCESS_SECONDS
    assert IDLE_SECONDS - 120 < seconds_until(authorization["refresh_expires_at"]) <= IDLE_SECONDS
    accounts = await accounts_of(org, authorization)
    alice = await tether.sandbox("GET", "/users/alice")
    assert sorted(a["external_id"] for a in accounts) == sorted(alice["accounts"])
    # Each account keeps the customer it belongs to: its reports are asked as that customer.
    assert all(a["manager_external_id"] == customer_id(platform(a)) for a in accounts)
    assert all(a["currency"] for a in accounts)
    assert (await stored(tether, authorization)).refresh_token is not None
    assert (await check(org, authorization))["status"] == "active"


async def test_the_hourly_refresh_moves_the_idle_end_so_a_grant_in_use_never_reaches_it(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_microsoft(org)
    first = await stored(tether, authorization)
    consented = utcnow()
    window = timedelta(seconds=tether.settings.refresh_window_seconds)

    # Inside the refresh window before the hour ends, where the scheduler brings the check.
    with time_machine.travel(consented + timedelta(hours=1) - window / 2, tick=True):
        assert (await check(org, authorization))["status"] == "active"
        renewed = await stored(tether, authorization)
        assert IDLE_SECONDS - 120 < seconds_until(renewed.refresh_expires_at) <= IDLE_SECONDS
        # The next check comes before the new hour ends: days, let alone 90, never pass.
        assert renewed.next_check_at is not None
        assert renewed.expires_at is not None
        assert renewed.next_check_at <= renewed.expires_at - window
    # Even a grant left unchecked for 80 days is refreshed in time, and its end moves again.
    with time_machine.travel(consented + timedelta(days=80), tick=True):
        assert (await check(org, authorization))["status"] == "active"
        later = await stored(tether, authorization)
        assert IDLE_SECONDS - 120 < seconds_until(later.refresh_expires_at) <= IDLE_SECONDS
    with time_machine.travel(consented + timedelta(days=150), tick=True):
        assert (await check(org, authorization))["status"] == "active"

    assert first.refresh_token is not None
    assert renewed.refresh_token is not None
    assert later.refresh_token is not None
    tokens = {
        vault.reveal(t) for t in (first.refresh_token, renewed.refresh_token, later.refresh_token)
    }
    assert len(tokens) == 3  # every refresh stored its new refresh token at once
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["token_refresh"] == {"ok": 3, "failed": 0}
    assert await incidents(org, kind="expiring") == []


async def test_when_refreshing_keeps_failing_the_expiring_warning_comes_before_the_idle_end(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_microsoft(org)
    ends = datetime.fromisoformat(authorization["refresh_expires_at"])
    days = tether.settings.expiring_warning_days
    await tether.sandbox("PUT", "/faults", json={"down": True})

    with time_machine.travel(ends - timedelta(days=days + 5), tick=True):
        assert (await check(org, authorization))["status"] == "failing"
        assert await incidents(org, kind="expiring") == []
    with time_machine.travel(ends - timedelta(days=days - 1), tick=True):
        checked = await check(org, authorization)
        (warning,) = await incidents(org, kind="expiring", state="open")
    # Microsoft is back before the end: the refresh renews the grant and the warning is over.
    await tether.sandbox("DELETE", "/faults")
    with time_machine.travel(ends - timedelta(days=days - 2), tick=True):
        recovered = await check(org, authorization)
        renewed = await stored(tether, authorization)
        assert IDLE_SECONDS - 120 < seconds_until(renewed.refresh_expires_at) <= IDLE_SECONDS

    assert (checked["status"], checked["reason"]) == ("failing", "provider_outage")
    assert f"ends on {ends:%Y-%m-%d}" in warning["message"]
    assert "Microsoft Advertising fails now" in warning["message"]
    assert recovered["status"] == "active"
    (closed,) = await incidents(org, kind="expiring")
    assert closed["closed_how"] == "recovered"


async def test_a_grant_whose_refreshes_fail_past_the_idle_end_lapses_as_expired(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_microsoft(org)
    ends = datetime.fromisoformat(authorization["refresh_expires_at"])
    await tether.sandbox("PUT", "/faults", json={"down": True})
    with time_machine.travel(ends - timedelta(days=2), tick=True):
        await check(org, authorization)
    await tether.sandbox("DELETE", "/faults")

    with time_machine.travel(ends + timedelta(days=1), tick=True):
        lapsed = await check(org, authorization)

    assert (lapsed["status"], lapsed["reason"]) == ("needs_reconnect", "token_expired")
    assert lapsed["message"].startswith("AADSTS700082: The refresh token has expired due to")
    (warning,) = await incidents(org, kind="expiring")
    assert warning["closed_how"] == "lapsed"


@pytest.mark.parametrize(
    ("switch", "status", "reason", "words"),
    [
        ("/users/alice/grants/revoke", "needs_reconnect", "token_revoked", "AADSTS65001: "),
        ("/users/alice/grants/expire", "needs_reconnect", "token_expired", "AADSTS700082: "),
        ("/users/alice/password", "needs_reconnect", "password_changed", "AADSTS50173: "),
        ("/users/alice/grants/expire-access", "active", None, None),
        ("/faults", "failing", "provider_outage", "An internal error has occurred."),
    ],
)
async def test_each_sandbox_switch_gives_microsofts_reason_and_words_in_tether(
    org: Org, tether: Tether, switch: str, status: str, reason: str | None, words: str | None
) -> None:
    authorization = await connect_microsoft(org)

    if switch == "/faults":
        await tether.sandbox("PUT", switch, json={"down": True})
    elif switch.endswith("password"):
        await tether.sandbox("POST", switch, json={"password": "a-new-one"})
    else:
        await tether.sandbox("POST", switch)
    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == (status, reason)
    assert words is None or checked["message"].startswith(words)
    assert words is None or "Trace ID" not in checked["message"]


async def test_a_throttled_check_backs_off_the_minute_microsoft_asks(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_microsoft(org)
    await tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 5})

    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == ("failing", "rate_limited")
    assert checked["message"].startswith("You have exceeded the number of calls")
    next_check_at = (await stored(tether, authorization)).next_check_at
    assert seconds_until(next_check_at) >= 60 - 10  # 117 asks a minute, whatever else is said


async def test_daily_loads_have_microsofts_figures_and_restate_the_last_30_days(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_microsoft(org)
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
    assert (daily.outcome, daily.days_loaded) == ("synced", 30)
    async with tether.sessions() as session:
        loaded = await session.get(MetricDay, (connection_id, yesterday))
    expected = day_metrics(platform(account), yesterday)
    assert loaded is not None
    assert (loaded.impressions, loaded.clicks, loaded.conversions) == (
        expected["impressions"],  # restated over the day changed since
        expected["clicks"],
        expected["conversions"],
    )
    assert str(loaded.spend) == expected["spend"]
    assert loaded.currency == account["currency"]


async def test_a_lost_account_lapses_its_connection_with_microsofts_words(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_microsoft(org)
    account = (await accounts_of(org, authorization))[0]
    connection = await org.connection(account)
    await tether.sandbox("DELETE", f"/users/alice/accounts/{account['external_id']}")

    result = await service.sync_connection(engine, uuid.UUID(connection["id"]))

    assert (result.outcome, result.reason) == ("failed", "access_removed")
    assert result.error == "The user is not authorized to perform this action."
    rows = (await org.api.get("/api/v1/connections")).json()["data"]
    assert [(r["status"], r["reason"]) for r in rows] == [("needs_reconnect", "access_removed")]


async def test_deleting_the_authorization_leaves_the_grant_to_the_member_at_microsoft(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_microsoft(org)

    deleted = await org.api.delete(f"/api/v1/authorizations/{authorization['id']}")

    assert deleted.status_code == 204, deleted.text
    # The identity platform has no revocation an app can call: nothing was asked.
    (grant,) = await tether.sandbox("GET", "/grants", params={"username": "alice"})
    assert (grant["revoked_reason"], grant["refreshable"]) == (None, True)
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["revoke"] == {"ok": 0, "failed": 0}
