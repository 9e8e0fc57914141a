"""Pinterest inside Tether, with the sandbox standing in for it: connect through the consent page,
continuous refresh keeping a grant alive past its first refresh token, the fault matrix,
back-off, daily loads with restatement, a lost ad account, and deletion without revocation."""

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
from tether.providers.pinterest_ads import ACCESS_SECONDS, REFRESH_SECONDS
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import SandboxAccount
from tether.sync import service


async def connect_pinterest(org: Org, username: str = "alice") -> dict[str, Any]:
    """Connect Pinterest Ads through its consent page, as a member's browser would."""
    return await connect_provider(org.api, "pinterest_ads", username=username)


def seconds_until(moment: str | datetime | None) -> float:
    assert moment is not None
    ends = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return (ends - utcnow()).total_seconds()


async def test_connecting_pinterest_keeps_both_ends_and_finds_the_ad_accounts(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_pinterest(org)

    assert (authorization["provider"], authorization["status"]) == ("pinterest_ads", "active")
    assert authorization["external_user_name"] == "alice"
    assert ACCESS_SECONDS - 120 < seconds_until(authorization["expires_at"]) <= ACCESS_SECONDS
    assert (
        REFRESH_SECONDS - 120
        < seconds_until(authorization["refresh_expires_at"])
        <= (REFRESH_SECONDS)
    )
    accounts = await accounts_of(org, authorization)
    alice = await tether.sandbox("GET", "/users/alice")
    assert sorted(a["external_id"] for a in accounts) == sorted(alice["accounts"])
    assert all(a["currency"] for a in accounts)
    assert (await stored(tether, authorization)).refresh_token is not None
    assert (await check(org, authorization))["status"] == "active"


async def test_continuous_refresh_keeps_a_grant_alive_past_its_first_refresh_token(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_pinterest(org)
    first = await stored(tether, authorization)
    assert first.refresh_token is not None
    consented = utcnow()

    # Inside the ten minutes before the 30-day access token ends: the check refreshes it.
    with time_machine.travel(consented + timedelta(seconds=ACCESS_SECONDS - 300), tick=True):
        assert (await check(org, authorization))["status"] == "active"
        renewed = await stored(tether, authorization)
        assert renewed.refresh_token is not None
        assert renewed.refresh_expires_at is not None
        assert REFRESH_SECONDS - 120 < seconds_until(renewed.refresh_expires_at) <= REFRESH_SECONDS
    # 85 days in: the first refresh token ended on day 60, the stored successor still works.
    with time_machine.travel(consented + timedelta(days=85), tick=True):
        assert (await check(org, authorization))["status"] == "active"

    assert vault.reveal(renewed.refresh_token) != vault.reveal(first.refresh_token)
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["token_refresh"] == {"ok": 2, "failed": 0}
    assert await incidents(org, kind="expiring") == []


@pytest.mark.parametrize(
    ("switch", "status", "reason", "words"),
    [
        # Pinterest says one thing of every dead grant: it reads as revoked (see the adapter).
        ("/users/alice/grants/revoke", "needs_reconnect", "token_revoked", "grant is invalid"),
        ("/users/alice/grants/expire", "needs_reconnect", "token_revoked", "grant is invalid"),
        ("/users/alice/password", "needs_reconnect", "token_revoked", "grant is invalid"),
        ("/users/alice/grants/expire-access", "active", None, None),
        ("/faults", "failing", "provider_outage", "Something went wrong on our end"),
    ],
)
async def test_each_sandbox_switch_gives_pinterests_reason_and_words_in_tether(
    org: Org,
    tether: Tether,
    switch: str,
    status: str,
    reason: str | None,
    words: str | None,
) -> None:
    authorization = await connect_pinterest(org)

    if switch == "/faults":
        await tether.sandbox("PUT", switch, json={"down": True})
    elif switch.endswith("password"):
        await tether.sandbox("POST", switch, json={"password": "a-new-one"})
    else:
        await tether.sandbox("POST", switch)
    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == (status, reason)
    assert words is None or words in checked["message"]


async def test_a_throttled_check_backs_off_as_long_as_pinterest_says(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_pinterest(org)
    await tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 1200})

    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == ("failing", "rate_limited")
    assert checked["message"].startswith("This request exceeded a rate limit.")
    next_check_at = (await stored(tether, authorization)).next_check_at
    assert next_check_at is not None
    assert (next_check_at - utcnow()).total_seconds() >= 1200 - 10  # 20 minutes


async def test_daily_loads_have_pinterests_figures_and_restate_the_last_30_days(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_pinterest(org)
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
        daily = await service.sync_connection(engine, connection_id)

    assert (first.outcome, first.days_loaded) == ("synced", 90)
    assert (daily.outcome, daily.days_loaded) == ("synced", 30)
    platform = SandboxAccount(account["external_id"], account["name"], account["currency"])
    async with tether.sessions() as session:
        loaded = await session.get(MetricDay, (connection_id, yesterday))
    expected = day_metrics(platform, yesterday)
    assert loaded is not None
    assert (loaded.impressions, loaded.clicks, loaded.conversions) == (
        expected["impressions"],  # restated over the day changed since
        expected["clicks"],
        expected["conversions"],
    )
    assert str(loaded.spend) == expected["spend"]
    assert loaded.currency == account["currency"]


async def test_a_lost_ad_account_lapses_its_connection_with_pinterests_words(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_pinterest(org)
    account = (await accounts_of(org, authorization))[0]
    connection = await org.connection(account)
    await tether.sandbox("DELETE", f"/users/alice/accounts/{account['external_id']}")

    result = await service.sync_connection(engine, uuid.UUID(connection["id"]))

    assert (result.outcome, result.reason) == ("failed", "access_removed")
    assert result.error == "You are not permitted to access that resource."
    rows = (await org.api.get("/api/v1/connections")).json()["data"]
    assert [(r["status"], r["reason"]) for r in rows] == [("needs_reconnect", "access_removed")]


async def test_deleting_the_authorization_leaves_the_grant_to_the_member_at_pinterest(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_pinterest(org)

    deleted = await org.api.delete(f"/api/v1/authorizations/{authorization['id']}")

    assert deleted.status_code == 204, deleted.text
    # Pinterest revokes system users' tokens only: nothing was asked, the grant is untouched.
    (grant,) = await tether.sandbox("GET", "/grants", params={"username": "alice"})
    assert (grant["revoked_reason"], grant["refreshable"]) == (None, True)
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["revoke"] == {"ok": 0, "failed": 0}
