"""LinkedIn's adapter over real HTTP against the sandbox's LinkedIn dialect: the sign-in and
its 60-day and 365-day ends, refresh that never moves the 365th day, discovery, adAnalytics,
every fault switch, revocation."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import time_machine

from tests.fixtures.builders import consent, query_of
from tests.fixtures.platforms import sign_in, signed_in
from tests.providers.linkedin.conftest import REDIRECT_URI
from tether.providers.base import Credentials, ProviderCallError, Reason
from tether.providers.linkedin_ads import (
    ACCESS_SECONDS,
    REFRESH_SECONDS,
    LinkedInAdsProvider,
    seconds_to_reset,
)
from tether.sandbox import SandboxState
from tether.sandbox.metrics import day_metrics

VERIFIER = "v" * 64


def seconds_until(moment: datetime | None) -> float:
    assert moment is not None
    return (moment - datetime.now(UTC)).total_seconds()


async def test_signing_in_gives_a_60_day_token_and_a_refresh_token_ending_in_365_days(
    linkedin: LinkedInAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(linkedin)

    assert grant.refresh_token is not None
    assert ACCESS_SECONDS - 60 < seconds_until(grant.expires_at) <= ACCESS_SECONDS
    assert REFRESH_SECONDS - 60 < seconds_until(grant.refresh_expires_at) <= REFRESH_SECONDS
    assert grant.scope == "r_ads,r_ads_reporting,openid,profile"
    identity = await linkedin.identify(Credentials(access_token=grant.access_token))
    assert (identity.name, identity.email) == ("Alice Martin", "alice@sandbox.test")


async def test_refreshing_renews_the_access_token_but_never_the_365th_day(
    linkedin: LinkedInAdsProvider, sandbox: SandboxState
) -> None:
    first = await sign_in(linkedin)
    assert first.refresh_token is not None
    assert first.refresh_expires_at is not None

    with time_machine.travel(datetime.now(UTC) + timedelta(days=59), tick=True):
        renewed = await linkedin.refresh(refresh_token=first.refresh_token)
        assert ACCESS_SECONDS - 60 < seconds_until(renewed.expires_at) <= ACCESS_SECONDS
        await linkedin.probe(Credentials(access_token=renewed.access_token))
    assert renewed.refresh_token == first.refresh_token
    assert renewed.refresh_expires_at is not None
    assert abs((renewed.refresh_expires_at - first.refresh_expires_at).total_seconds()) < 5

    later = datetime.now(UTC) + timedelta(days=366)
    with time_machine.travel(later, tick=True), pytest.raises(ProviderCallError) as ended:
        await linkedin.refresh(refresh_token=first.refresh_token)
    assert (ended.value.reason, ended.value.status) == (Reason.TOKEN_EXPIRED, 400)
    assert "invalid, expired or revoked" in ended.value.message


async def test_discovery_names_every_ad_account_the_member_has_a_role_on(
    linkedin: LinkedInAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(linkedin)

    accounts = await linkedin.list_accounts(credentials)

    reachable = sandbox.reachable_account_ids("u_alice")
    assert [a.external_id for a in accounts] == reachable
    assert [(a.name, a.currency) for a in accounts] == [
        (sandbox.accounts[n].name, sandbox.accounts[n].currency) for n in reachable
    ]


async def test_discovery_pages_through_more_roles_than_one_page_holds(
    linkedin: LinkedInAdsProvider, sandbox: SandboxState
) -> None:
    many = sandbox.create_accounts(230, users=["bob"])
    credentials = await signed_in(linkedin, "bob")

    accounts = await linkedin.list_accounts(credentials)

    assert len(accounts) == len(sandbox.reachable_account_ids("u_bob")) == 230 + 5
    assert {a.external_id for a in accounts} >= {a.id for a in many}
    assert sandbox.stats()["users"]["bob"]["accounts"]["ok"] == 3 + 3  # roles, then names


async def test_daily_figures_are_the_accounts_own_with_leads_counted_as_conversions(
    linkedin: LinkedInAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(linkedin)
    number = sandbox.reachable_account_ids("u_alice")[0]
    end = datetime.now(UTC).date() - timedelta(days=1)
    start = end - timedelta(days=44)

    days = await linkedin.fetch_daily(credentials, account_id=number, start=start, end=end)

    account = sandbox.accounts[number]
    assert [d.day for d in days] == [start + timedelta(days=n) for n in range(45)]
    for day in days:
        expected = day_metrics(account, day.day)
        assert (day.impressions, day.clicks, day.conversions) == (
            expected["impressions"],
            expected["clicks"],
            expected["conversions"],
        )
        assert day.spend == Decimal(expected["spend"])


async def test_days_before_the_history_or_after_today_are_not_invented(
    linkedin: LinkedInAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(linkedin)
    number = sandbox.reachable_account_ids("u_alice")[0]
    today = datetime.now(UTC).date()

    days = await linkedin.fetch_daily(
        credentials, account_id=number, start=today - timedelta(days=2), end=today + timedelta(3)
    )

    assert [d.day for d in days] == [today - timedelta(days=n) for n in (2, 1, 0)]


@pytest.mark.parametrize(
    ("action", "reason", "words"),
    [
        ("revoke", Reason.TOKEN_REVOKED, "revoked by the user"),
        ("expire", Reason.TOKEN_EXPIRED, "has expired"),
    ],
)
async def test_each_grant_switch_reads_as_linkedins_reason(
    linkedin: LinkedInAdsProvider, sandbox: SandboxState, action: str, reason: Reason, words: str
) -> None:
    credentials = await signed_in(linkedin)
    sandbox.act_on_user_grants("alice", action)

    with pytest.raises(ProviderCallError) as lapsed:
        await linkedin.probe(credentials)

    assert (lapsed.value.reason, lapsed.value.status) == (reason, 401)
    assert words in lapsed.value.message


async def test_a_password_change_reads_as_a_revocation_since_linkedin_does_not_say_why(
    linkedin: LinkedInAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(linkedin)
    sandbox.change_password("alice", "a-new-one")

    with pytest.raises(ProviderCallError) as lapsed:
        await linkedin.probe(credentials)

    assert lapsed.value.reason == Reason.TOKEN_REVOKED


async def test_an_account_the_member_lost_is_access_removed_on_its_report(
    linkedin: LinkedInAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(linkedin)
    number = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.remove_access("alice", number)
    today = datetime.now(UTC).date()

    with pytest.raises(ProviderCallError) as lost:
        await linkedin.fetch_daily(credentials, account_id=number, start=today, end=today)

    assert (lost.value.reason, lost.value.status) == (Reason.ACCESS_REMOVED, 403)
    assert lost.value.message.startswith("Not enough permissions to access")
    await linkedin.probe(credentials)  # the grant itself is fine


async def test_a_throttle_waits_for_linkedins_midnight_reset_and_an_outage_is_passing(
    linkedin: LinkedInAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(linkedin)
    sandbox.set_faults(throttle_retry_after=60)

    with pytest.raises(ProviderCallError) as throttled:
        await linkedin.probe(credentials)
    sandbox.set_faults(throttle_retry_after=None, down=True)
    with pytest.raises(ProviderCallError) as down:
        await linkedin.probe(credentials)

    assert (throttled.value.reason, throttled.value.status) == (Reason.RATE_LIMITED, 429)
    assert throttled.value.retry_after is not None
    expected = seconds_to_reset(datetime.now(UTC))
    assert expected - 5 <= throttled.value.retry_after <= expected + 1
    assert (down.value.reason, down.value.status) == (Reason.PROVIDER_OUTAGE, 503)


def test_the_reset_is_the_next_midnight_utc() -> None:
    assert seconds_to_reset(datetime(2026, 12, 7, 23, 0, tzinfo=UTC)) == 3600
    assert seconds_to_reset(datetime(2026, 12, 7, 0, 0, tzinfo=UTC)) == 86400


async def test_revoking_ends_the_grant_at_linkedin(
    linkedin: LinkedInAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(linkedin)

    await linkedin.revoke(token=grant.access_token)

    with pytest.raises(ProviderCallError) as revoked:
        await linkedin.probe(Credentials(access_token=grant.access_token))
    assert revoked.value.reason == Reason.TOKEN_REVOKED
    (held,) = sandbox.grants_for("alice")
    assert held.revoked_reason == "token_revoked"


async def test_a_grant_without_r_ads_fails_its_probe_as_a_missing_scope(
    linkedin: LinkedInAdsProvider, sandbox: SandboxState
) -> None:
    url = linkedin.authorize_url(state="st-3", code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)
    narrow = str(httpx.URL(url).copy_set_param("scope", "openid profile"))
    code = query_of(await consent(narrow))["code"]
    grant = await linkedin.exchange_code(
        code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT_URI
    )

    with pytest.raises(ProviderCallError) as narrowed:
        await linkedin.probe(Credentials(access_token=grant.access_token))

    assert (narrowed.value.reason, narrowed.value.status) == (Reason.SCOPE_MISSING, 403)
    assert narrowed.value.message.startswith("Not enough permissions to access")
