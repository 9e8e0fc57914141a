"""Snapchat's adapter over real HTTP against the sandbox's Snapchat dialect: the log-in and its
hour-long token, refreshes that keep the one refresh token, discovery through organizations,
stats per day of each account's time zone, every fault switch, revocation."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from tests.fixtures.platforms import sign_in, signed_in
from tests.providers.snapchat_ads.conftest import sandbox_id_of
from tether.providers.base import (
    Credentials,
    DailyMetrics,
    ProviderCallError,
    Reason,
)
from tether.providers.snapchat_ads import ACCESS_SECONDS, SnapchatAdsProvider
from tether.sandbox import SandboxState
from tether.sandbox.dialects.snapchat_api import account_timezone, organizations, snap_id
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import NewAccount


def seconds_until(moment: datetime | None) -> float:
    assert moment is not None
    return (moment - datetime.now(UTC)).total_seconds()


def assert_figures(sandbox: SandboxState, number: str, days: list[DailyMetrics]) -> None:
    """Each loaded day holds the sandbox's figures of that day of the account."""
    account = sandbox.accounts[number]
    for day in days:
        expected = day_metrics(account, day.day)
        assert (day.impressions, day.clicks, day.conversions) == (
            expected["impressions"],
            expected["clicks"],
            expected["conversions"],
        )
        assert day.spend == Decimal(expected["spend"])
        assert day.currency == account.currency


async def test_signing_in_gives_an_hour_long_token_and_a_refresh_token_without_an_end(
    snapchat: SnapchatAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(snapchat)

    assert grant.refresh_token is not None
    assert ACCESS_SECONDS - 60 < seconds_until(grant.expires_at) <= ACCESS_SECONDS
    assert grant.refresh_expires_at is None
    assert grant.scope == "snapchat-marketing-api"
    identity = await snapchat.identify(Credentials(access_token=grant.access_token))
    assert (identity.name, identity.email) == ("Alice Martin", "alice@sandbox.test")
    assert identity.external_user_id == snap_id("member", "u_alice")


async def test_refreshing_renews_the_access_token_and_keeps_the_one_refresh_token(
    snapchat: SnapchatAdsProvider, sandbox: SandboxState
) -> None:
    first = await sign_in(snapchat)
    assert first.refresh_token is not None

    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=55), tick=True):
        renewed = await snapchat.refresh(refresh_token=first.refresh_token)
        assert ACCESS_SECONDS - 60 < seconds_until(renewed.expires_at) <= ACCESS_SECONDS
        await snapchat.probe(Credentials(access_token=renewed.access_token))
    with time_machine.travel(datetime.now(UTC) + timedelta(days=365), tick=True):
        a_year_on = await snapchat.refresh(refresh_token=first.refresh_token)

    assert renewed.access_token != first.access_token
    # Snap's answer names no refresh token: the one presented is kept.
    assert renewed.refresh_token == first.refresh_token
    assert a_year_on.access_token not in (first.access_token, renewed.access_token)


async def test_discovery_names_every_ad_account_of_the_members_organizations(
    snapchat: SnapchatAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(snapchat)

    accounts = await snapchat.list_accounts(credentials)

    reachable = sandbox.reachable_account_ids("u_alice")
    assert sorted(a.external_id for a in accounts) == sorted(
        snap_id("adaccount", n) for n in reachable
    )
    for account in accounts:
        number = sandbox_id_of(sandbox, account.external_id)
        assert (account.name, account.currency) == (
            sandbox.accounts[number].name,
            sandbox.accounts[number].currency,
        )


async def test_discovery_pages_through_an_organization_of_more_accounts_than_a_page_holds(
    snapchat: SnapchatAdsProvider, sandbox: SandboxState
) -> None:
    sandbox.add_accounts(
        NewAccount(f"Big Agency — Line {n:04d}", "USD", None, ("bob",)) for n in range(1100)
    )
    credentials = await signed_in(snapchat, "bob")

    accounts = await snapchat.list_accounts(credentials)

    assert len(accounts) == len(sandbox.reachable_account_ids("u_bob")) == 1100 + 5
    assert len({a.external_id for a in accounts}) == len(accounts)
    owned = organizations(sandbox, sandbox.user("bob"))
    # One call for the organizations, one per organization, and a second page for the big one.
    assert sandbox.stats()["users"]["bob"]["accounts"]["ok"] == 1 + len(owned) + 1


async def test_daily_figures_are_the_accounts_own_over_more_days_than_one_call_holds(
    snapchat: SnapchatAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(snapchat)
    number = sandbox.reachable_account_ids("u_alice")[0]
    end = datetime.now(UTC).date() - timedelta(days=1)
    start = end - timedelta(days=44)

    days = await snapchat.fetch_daily(
        credentials, account_id=snap_id("adaccount", number), start=start, end=end
    )

    assert [d.day for d in days] == [start + timedelta(days=n) for n in range(45)]
    assert_figures(sandbox, number, days)
    assert sandbox.stats()["users"]["alice"]["metrics"]["ok"] == 2  # 31 days, then 14


async def test_days_across_a_summer_time_change_are_each_the_accounts_own_day(
    snapchat: SnapchatAdsProvider, sandbox: SandboxState
) -> None:
    created = sandbox.add_accounts(
        NewAccount(f"Pacific Co — Line {n}", "USD", None, ("alice",)) for n in range(30)
    )
    pacific = next(a.id for a in created if account_timezone(a.id) == "America/Los_Angeles")
    credentials = await signed_in(snapchat)

    with time_machine.travel(datetime(2026, 4, 2, 12, tzinfo=UTC), tick=True):
        days = await snapchat.fetch_daily(
            credentials,
            account_id=snap_id("adaccount", pacific),
            start=date(2026, 3, 1),
            end=date(2026, 3, 15),
        )

    assert [d.day for d in days] == [date(2026, 3, 1) + timedelta(days=n) for n in range(15)]
    assert_figures(sandbox, pacific, days)


async def test_days_before_the_history_or_after_today_are_not_invented(
    snapchat: SnapchatAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(snapchat)
    number = sandbox.reachable_account_ids("u_alice")[0]
    today = datetime.now(UTC).date()

    days = await snapchat.fetch_daily(
        credentials,
        account_id=snap_id("adaccount", number),
        start=today - timedelta(days=2),
        end=today + timedelta(days=3),
    )

    assert [d.day for d in days] == [today - timedelta(days=n) for n in (2, 1, 0)]


@pytest.mark.parametrize(
    ("switch", "reason", "words"),
    [
        ("revoke", Reason.TOKEN_REVOKED, "Invalid refresh token."),
        ("expire", Reason.TOKEN_EXPIRED, "The refresh token has expired."),
        ("password", Reason.TOKEN_REVOKED, "Invalid refresh token."),
    ],
)
async def test_a_dead_grant_shows_as_a_bare_401_and_its_refresh_says_why(
    snapchat: SnapchatAdsProvider, sandbox: SandboxState, switch: str, reason: Reason, words: str
) -> None:
    grant = await sign_in(snapchat)
    assert grant.refresh_token is not None
    if switch == "password":
        sandbox.change_password("alice", "a-new-one")
    else:
        sandbox.act_on_user_grants("alice", switch)

    with pytest.raises(ProviderCallError) as probed:
        await snapchat.probe(Credentials(access_token=grant.access_token))
    with pytest.raises(ProviderCallError) as refreshed:
        await snapchat.refresh(refresh_token=grant.refresh_token)

    assert (probed.value.reason, probed.value.status, probed.value.message) == (
        Reason.TOKEN_EXPIRED,
        401,
        "Unauthorized",
    )
    assert (refreshed.value.reason, refreshed.value.status) == (reason, 400)
    assert refreshed.value.message == words


async def test_an_account_the_member_lost_is_access_removed_with_snaps_words(
    snapchat: SnapchatAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(snapchat)
    number = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.remove_access("alice", number)
    today = datetime.now(UTC).date()

    with pytest.raises(ProviderCallError) as lost:
        await snapchat.fetch_daily(
            credentials, account_id=snap_id("adaccount", number), start=today, end=today
        )

    assert (lost.value.reason, lost.value.status) == (Reason.ACCESS_REMOVED, 403)
    assert lost.value.message.startswith("We're sorry, but the requested resource")
    await snapchat.probe(credentials)  # the grant itself is fine


async def test_a_throttle_waits_as_long_as_snap_says_and_an_outage_is_passing(
    snapchat: SnapchatAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(snapchat)
    sandbox.set_faults(throttle_retry_after=90)

    with pytest.raises(ProviderCallError) as throttled:
        await snapchat.probe(credentials)
    sandbox.set_faults(throttle_retry_after=None, down=True)
    with pytest.raises(ProviderCallError) as down:
        await snapchat.probe(credentials)

    assert (throttled.value.reason, throttled.value.status) == (Reason.RATE_LIMITED, 429)
    assert throttled.value.retry_after is not None
    assert 88 <= throttled.value.retry_after <= 91
    assert throttled.value.message == "Rate limit exceeded"
    assert (down.value.reason, down.value.status) == (Reason.PROVIDER_OUTAGE, 503)


async def test_revoking_ends_the_grant_at_snap(
    snapchat: SnapchatAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(snapchat)
    assert grant.refresh_token is not None

    await snapchat.revoke(token=grant.refresh_token)

    with pytest.raises(ProviderCallError) as revoked:
        await snapchat.refresh(refresh_token=grant.refresh_token)
    assert revoked.value.reason == Reason.TOKEN_REVOKED
    (held,) = sandbox.grants_for("alice")
    assert held.revoked_reason == "token_revoked"
