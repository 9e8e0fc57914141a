"""Meta inside Tether, with the sandbox standing in for it: connect through the dialog, the
60-day expiry and the warning ahead of it, the fault matrix, back-off, daily loads."""

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine

from tests.fixtures.builders import Org, connect_provider
from tests.fixtures.platforms import accounts_of, check, incidents
from tests.fixtures.running import Tether
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import Authorization, MetricDay
from tether.providers.meta_ads import LONG_LIVED_SECONDS
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import SandboxAccount
from tether.sync import service


async def connect_meta(org: Org, username: str = "alice") -> dict[str, Any]:
    """Connect Meta Ads through its dialog, as a member's browser would."""
    return await connect_provider(org.api, "meta_ads", username=username)


async def test_connecting_meta_keeps_the_60_day_expiry_and_finds_the_ad_accounts(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_meta(org)

    assert (authorization["provider"], authorization["status"]) == ("meta_ads", "active")
    lifetime = (datetime.fromisoformat(authorization["expires_at"]) - utcnow()).total_seconds()
    assert LONG_LIVED_SECONDS - 120 < lifetime <= LONG_LIVED_SECONDS
    assert authorization["refresh_expires_at"] is None
    accounts = await accounts_of(org, authorization)
    alice = await tether.sandbox("GET", "/users/alice")
    assert sorted(a["external_id"] for a in accounts) == sorted(
        f"act_{n}" for n in alice["accounts"]
    )
    assert all(a["currency"] for a in accounts)
    async with tether.sessions() as session:
        stored = await session.get(Authorization, uuid.UUID(authorization["id"]))
    assert stored is not None
    assert stored.refresh_token is None
    assert (await check(org, authorization))["status"] == "active"


async def test_the_expiring_warning_opens_ahead_of_the_60_days_and_the_lapse_follows(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_meta(org)
    days = tether.settings.expiring_warning_days
    assert (await check(org, authorization))["status"] == "active"
    assert await incidents(org, kind="expiring") == []

    with time_machine.travel(utcnow() + timedelta(days=60 - days + 1), tick=True):
        await check(org, authorization)
        await check(org, authorization)
    (warning,) = await incidents(org, kind="expiring", state="open")
    assert "Meta Ads" in warning["message"]
    assert "cannot be renewed" in warning["message"]

    with time_machine.travel(utcnow() + timedelta(days=61), tick=True):
        lapsed = await check(org, authorization)
    assert (lapsed["status"], lapsed["reason"]) == ("needs_reconnect", "token_expired")
    assert "Session has expired" in lapsed["message"]
    assert (await incidents(org, kind="expiring"))[0]["closed_how"] == "lapsed"


@pytest.mark.parametrize(
    ("switch", "status", "reason", "words"),
    [
        ("/users/alice/grants/revoke", "needs_reconnect", "token_revoked", "not authorized"),
        ("/users/alice/grants/expire", "needs_reconnect", "token_expired", "Session has expired"),
        ("/users/alice/password", "needs_reconnect", "password_changed", "password was changed"),
        ("/faults", "failing", "provider_outage", "Please retry your request later"),
    ],
)
async def test_each_sandbox_switch_gives_metas_reason_and_words_in_tether(
    org: Org, tether: Tether, switch: str, status: str, reason: str, words: str
) -> None:
    authorization = await connect_meta(org)

    if switch == "/faults":
        await tether.sandbox("PUT", switch, json={"down": True})
    elif switch.endswith("password"):
        await tether.sandbox("POST", switch, json={"password": "a-new-one"})
    else:
        await tether.sandbox("POST", switch)
    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == (status, reason)
    assert words in checked["message"]


async def test_a_throttled_check_backs_off_as_long_as_meta_says(org: Org, tether: Tether) -> None:
    authorization = await connect_meta(org)
    await tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 1200})

    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == ("failing", "rate_limited")
    assert checked["message"].startswith("(#80004)")
    async with tether.sessions() as session:
        stored = await session.get(Authorization, uuid.UUID(authorization["id"]))
    assert stored is not None
    assert stored.next_check_at is not None
    assert (stored.next_check_at - utcnow()).total_seconds() >= 1200 - 10  # 20 minutes


async def test_daily_loads_have_metas_figures_and_restate_the_last_8_days(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_meta(org)
    account = (await accounts_of(org, authorization))[0]
    connection_id = uuid.UUID((await org.connection(account))["id"])

    first = await service.sync_connection(engine, connection_id)
    with time_machine.travel(utcnow() + timedelta(days=1), tick=True):
        daily = await service.sync_connection(engine, connection_id)

    assert (first.outcome, first.days_loaded) == ("synced", 90)
    assert (daily.outcome, daily.days_loaded) == ("synced", 8)
    platform = SandboxAccount(
        account["external_id"].removeprefix("act_"), account["name"], account["currency"]
    )
    yesterday = utcnow().date() - timedelta(days=1)
    async with tether.sessions() as session:
        stored = await session.get(MetricDay, (connection_id, yesterday))
    expected = day_metrics(platform, yesterday)
    assert stored is not None
    assert (stored.impressions, stored.clicks, stored.conversions) == (
        expected["impressions"],
        expected["clicks"],
        expected["conversions"],
    )
    assert str(stored.spend) == expected["spend"]
    assert stored.currency == account["currency"]


async def test_a_lost_ad_account_lapses_its_connection_with_metas_words(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_meta(org)
    account = (await accounts_of(org, authorization))[0]
    connection = await org.connection(account)
    number = account["external_id"].removeprefix("act_")
    await tether.sandbox("DELETE", f"/users/alice/accounts/{number}")

    result = await service.sync_connection(engine, uuid.UUID(connection["id"]))

    assert (result.outcome, result.reason) == ("failed", "access_removed")
    assert result.error is not None
    assert "does not exist" in result.error
    rows = (await org.api.get("/api/v1/connections")).json()["data"]
    assert [(r["status"], r["reason"]) for r in rows] == [("needs_reconnect", "access_removed")]


async def test_deleting_the_authorization_removes_the_app_at_meta(org: Org, tether: Tether) -> None:
    authorization = await connect_meta(org)

    deleted = await org.api.delete(f"/api/v1/authorizations/{authorization['id']}")

    assert deleted.status_code == 204, deleted.text
    (grant,) = await tether.sandbox("GET", "/grants", params={"username": "alice"})
    assert grant["revoked_reason"] == "token_revoked"
    assert grant["refreshable"] is False


async def test_a_system_user_token_connects_like_an_api_key_and_never_expires(
    org: Org, tether: Tether
) -> None:
    carol = await tether.sandbox("GET", "/users/carol")

    created = await org.api.post(
        "/api/v1/authorizations",
        json={"provider": "meta_ads_system_user", "api_key": carol["api_key"]},
    )

    assert created.status_code == 201, created.text
    authorization = created.json()
    assert (authorization["external_user_name"], authorization["expires_at"]) == (
        "Carol Nguyen",
        None,
    )
    assert authorization["account_count"] == len(carol["accounts"])
    with time_machine.travel(utcnow() + timedelta(days=400), tick=True):
        assert (await check(org, authorization))["status"] == "active"
    assert await incidents(org, kind="expiring") == []
