"""Amazon's adapter over real HTTP against the sandbox's Amazon dialect: the sign-in, refresh
tokens that rotate on every use, profiles in every region, the asynchronous report (its wait,
its duplicate, its file), every fault switch, and why nothing is revoked."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import time_machine

from tests.fixtures.builders import consent, query_of
from tests.fixtures.platforms import sign_in, signed_in
from tests.providers.amazon_ads.conftest import REDIRECT_URI, registry_for, sandbox_id_of
from tether.providers.amazon_ads import ACCESS_SECONDS, AmazonAdsProvider
from tether.providers.base import (
    Credentials,
    DailyMetrics,
    Identity,
    ProviderCallError,
    Reason,
)
from tether.sandbox import SandboxState
from tether.sandbox.dialects.amazon import BAD_REFRESH, amazon_user_id
from tether.sandbox.dialects.amazon_api import marketplace_of, profile_id
from tether.sandbox.metrics import day_metrics

VERIFIER = "v" * 64


def today() -> date:
    return datetime.now(UTC).date()


def seconds_until(moment: datetime | None) -> float:
    assert moment is not None
    return (moment - datetime.now(UTC)).total_seconds()


def expected(sandbox: SandboxState, number: str, day: date) -> tuple[int, int, Decimal, int]:
    figures = day_metrics(sandbox.accounts[number], day)
    return (
        figures["impressions"],
        figures["clicks"],
        Decimal(figures["spend"]),
        figures["conversions"],
    )


async def test_signing_in_gives_an_hour_long_token_a_refresh_token_and_who_signed_in(
    amazon: AmazonAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(amazon)

    assert ACCESS_SECONDS - 60 < seconds_until(grant.expires_at) <= ACCESS_SECONDS
    assert grant.refresh_token is not None
    assert grant.refresh_expires_at is None
    (held,) = sandbox.grants_for("alice")
    assert held.scope == "advertising::campaign_management profile"
    identity = await amazon.identify(Credentials(access_token=grant.access_token))
    assert identity == Identity(
        amazon_user_id(sandbox.user("alice")), "Alice Martin", "alice@sandbox.test"
    )


async def test_every_refresh_hands_out_a_new_refresh_token_and_the_old_one_dies_once_used(
    amazon: AmazonAdsProvider,
) -> None:
    grant = await sign_in(amazon)

    renewed = await amazon.refresh(refresh_token=grant.refresh_token or "")
    await amazon.probe(Credentials(access_token=renewed.access_token))
    with pytest.raises(ProviderCallError) as replaced:
        await amazon.refresh(refresh_token=grant.refresh_token or "")

    assert renewed.refresh_token not in (None, grant.refresh_token)
    assert ACCESS_SECONDS - 60 < seconds_until(renewed.expires_at) <= ACCESS_SECONDS
    # The rotated token is the only one left: Tether stores it the moment it arrives.
    assert (replaced.value.reason, replaced.value.message) == (Reason.TOKEN_REVOKED, BAD_REFRESH)


async def test_a_refresh_token_has_no_end_of_its_own(amazon: AmazonAdsProvider) -> None:
    grant = await sign_in(amazon)

    with time_machine.travel(datetime.now(UTC) + timedelta(days=400), tick=True):
        renewed = await amazon.refresh(refresh_token=grant.refresh_token or "")
        await amazon.probe(Credentials(access_token=renewed.access_token))


async def test_a_code_used_twice_is_refused_in_amazons_words_and_is_no_lapse(
    amazon: AmazonAdsProvider,
) -> None:
    url = amazon.authorize_url(state="st-2", code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)
    code = query_of(await consent(url))["code"]
    await amazon.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)

    with pytest.raises(ProviderCallError) as refused:
        await amazon.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)

    assert (refused.value.reason, refused.value.message) == (
        Reason.UNKNOWN,
        "The request has an invalid grant parameter : code",
    )


async def test_a_wrong_app_secret_is_the_operators_to_fix_and_is_never_shown(
    amazon: AmazonAdsProvider, sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    grant = await sign_in(amazon)
    wrong = registry_for(http, sandbox_url, client_id="tether", client_secret="wrong-s3cret-42")
    misconfigured = wrong.providers["amazon_ads"]

    with pytest.raises(ProviderCallError) as at_sign_in:
        await sign_in(misconfigured)
    with pytest.raises(ProviderCallError) as at_refresh:
        await misconfigured.refresh(refresh_token=grant.refresh_token or "")

    for refused in (at_sign_in.value, at_refresh.value):
        assert (refused.reason, refused.message, refused.status) == (
            Reason.UNKNOWN,
            "Client authentication failed",
            401,
        )
        assert "wrong-s3cret-42" not in f"{refused!s} {refused!r} {vars(refused)}"


async def test_discovery_finds_the_profiles_of_every_region_and_keeps_each_ones_region(
    amazon: AmazonAdsProvider, sandbox: SandboxState
) -> None:
    sandbox.add_account("Kyoto Tea House — Search", currency="JPY", users=["alice"])

    accounts = await amazon.list_accounts(await signed_in(amazon))

    reached = {
        str(profile_id(n)): sandbox.accounts[n] for n in sandbox.reachable_account_ids("u_alice")
    }
    assert sorted(a.external_id for a in accounts) == sorted(reached)
    for account in accounts:
        own = reached[account.external_id]
        place = marketplace_of(own)
        assert account.name == f"{own.name} ({place.country})"
        assert (account.currency, account.manager_id) == (own.currency, place.region.upper())
    assert {a.manager_id for a in accounts} == {"NA", "EU", "FE"}


async def test_a_daily_load_adds_up_the_campaigns_of_each_day_over_two_reports(
    amazon: AmazonAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(amazon)
    profile = (await amazon.list_accounts(credentials))[0]
    start, end = today() - timedelta(days=39), today() - timedelta(days=1)

    days = await amazon.fetch_daily(
        credentials,
        account_id=profile.external_id,
        start=start,
        end=end,
        manager_id=profile.manager_id,
    )

    number = sandbox_id_of(sandbox, profile.external_id)
    assert [d.day for d in days] == [start + timedelta(days=n) for n in range(39)]
    for d in days:
        assert (d.impressions, d.clicks, d.spend, d.conversions) == expected(sandbox, number, d.day)
        assert d.currency is None  # the profile's, which Tether keeps with the account
    # Two reports of at most 31 days, each asked for once and looked at once.
    assert sandbox.stats()["users"]["alice"]["metrics"] == {"ok": 4, "failed": 0}


async def test_a_profile_stored_without_its_region_is_looked_up_on_every_host(
    amazon: AmazonAdsProvider, sandbox: SandboxState
) -> None:
    sandbox.add_account("Kyoto Tea House — Search", currency="JPY", users=["alice"])
    credentials = await signed_in(amazon)
    far = next(a for a in await amazon.list_accounts(credentials) if a.manager_id == "FE")
    yesterday = today() - timedelta(days=1)

    (day,) = await amazon.fetch_daily(
        credentials, account_id=far.external_id, start=yesterday, end=yesterday
    )

    number = sandbox_id_of(sandbox, far.external_id)
    assert (day.impressions, day.clicks, day.spend, day.conversions) == expected(
        sandbox, number, yesterday
    )


async def test_a_report_not_ready_in_time_passes_and_the_next_load_waits_for_the_same_one(
    amazon: AmazonAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(amazon)
    profile = (await amazon.list_accounts(credentials))[0]
    yesterday = today() - timedelta(days=1)

    async def load() -> list[DailyMetrics]:
        return await amazon.fetch_daily(
            credentials,
            account_id=profile.external_id,
            start=yesterday,
            end=yesterday,
            manager_id=profile.manager_id,
        )

    amazon.report_waits = (0.0, 0.0)
    sandbox.set_user_faults(["alice"], slow_ms=1)  # a slow platform makes slow reports

    with pytest.raises(ProviderCallError) as unfinished:
        await load()
    sandbox.clear_faults()
    (day,) = await load()

    assert unfinished.value.reason == Reason.UNKNOWN
    assert "has not finished the report" in unfinished.value.message
    assert "PROCESSING" in unfinished.value.message
    assert (
        day.impressions
        == expected(sandbox, sandbox_id_of(sandbox, profile.external_id), yesterday)[0]
    )
    # Asked twice, made once: the second request was the 425 naming the first report.
    assert sandbox.stats()["users"]["alice"]["metrics"] == {"ok": 4, "failed": 1}


async def test_a_day_too_far_back_is_amazons_refusal_and_no_lapse(
    amazon: AmazonAdsProvider,
) -> None:
    credentials = await signed_in(amazon)
    profile = (await amazon.list_accounts(credentials))[0]
    old = today() - timedelta(days=120)

    with pytest.raises(ProviderCallError) as refused:
        await amazon.fetch_daily(
            credentials,
            account_id=profile.external_id,
            start=old,
            end=old,
            manager_id=profile.manager_id,
        )

    assert (refused.value.reason, refused.value.message, refused.value.status) == (
        Reason.UNKNOWN,
        "Report date is too far in the past.",
        406,
    )


async def test_a_lost_profile_is_access_removed_in_amazons_words(
    amazon: AmazonAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(amazon)
    profile = (await amazon.list_accounts(credentials))[0]
    sandbox.remove_access("alice", sandbox_id_of(sandbox, profile.external_id))

    with pytest.raises(ProviderCallError) as lost:
        await amazon.fetch_daily(
            credentials,
            account_id=profile.external_id,
            start=today(),
            end=today(),
            manager_id=profile.manager_id,
        )

    assert (lost.value.reason, lost.value.message) == (
        Reason.ACCESS_REMOVED,
        f"Not authorized to access scope {profile.external_id}",
    )


@pytest.mark.parametrize(
    ("action", "after_refresh"),
    [("revoke", Reason.TOKEN_REVOKED), ("expire", Reason.TOKEN_REVOKED), ("expire-access", None)],
)
async def test_a_token_the_api_no_longer_takes_is_expired_and_the_refresh_says_the_rest(
    amazon: AmazonAdsProvider, sandbox: SandboxState, action: str, after_refresh: Reason | None
) -> None:
    grant = await sign_in(amazon)
    sandbox.act_on_user_grants("alice", action)

    with pytest.raises(ProviderCallError) as probed:
        await amazon.probe(Credentials(access_token=grant.access_token))
    try:
        await amazon.refresh(refresh_token=grant.refresh_token or "")
        refused: ProviderCallError | None = None
    except ProviderCallError as error:
        refused = error

    assert (probed.value.reason, probed.value.message) == (
        Reason.TOKEN_EXPIRED,
        "Authentication failed",
    )
    assert (refused.reason if refused else None) == after_refresh
    assert refused is None or refused.message == BAD_REFRESH


async def test_a_password_change_reads_as_a_revoked_grant(
    amazon: AmazonAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(amazon)
    sandbox.change_password("alice", "a-new-one")

    with pytest.raises(ProviderCallError) as refused:
        await amazon.refresh(refresh_token=grant.refresh_token or "")

    assert (refused.value.reason, refused.value.message) == (Reason.TOKEN_REVOKED, BAD_REFRESH)


async def test_down_and_throttled_are_passing_faults_with_amazons_wait(
    amazon: AmazonAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(amazon)

    sandbox.set_faults(down=True)
    with pytest.raises(ProviderCallError) as down:
        await amazon.probe(credentials)
    sandbox.set_faults(down=False, throttle_retry_after=90)
    with pytest.raises(ProviderCallError) as throttled:
        await amazon.list_accounts(credentials)

    assert down.value.reason == Reason.PROVIDER_OUTAGE
    assert down.value.message.startswith("Something went wrong on the server.")
    assert (throttled.value.reason, throttled.value.message, throttled.value.retry_after) == (
        Reason.RATE_LIMITED,
        "Too Many Requests",
        90,
    )


async def test_deleting_revokes_nothing_since_login_with_amazon_has_no_revocation(
    amazon: AmazonAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(amazon)

    await amazon.revoke(token=grant.refresh_token or "")

    await amazon.probe(Credentials(access_token=grant.access_token))
    (held,) = sandbox.grants_for("alice")
    assert held.revoked_reason is None
    assert sandbox.stats()["users"]["alice"]["revoke"] == {"ok": 0, "failed": 0}
