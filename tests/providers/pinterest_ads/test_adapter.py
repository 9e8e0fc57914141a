"""Pinterest's adapter over real HTTP against the sandbox's Pinterest dialect: the sign-in with
continuous refresh, discovery, the analytics report, every fault switch, and why nothing is
revoked."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import time_machine

from tests.fixtures.builders import consent, query_of
from tests.fixtures.platforms import sign_in, signed_in
from tests.providers.pinterest_ads.conftest import REDIRECT_URI, registry_for
from tether.providers.base import Credentials, ProviderCallError, Reason
from tether.providers.pinterest_ads import ACCESS_SECONDS, REFRESH_SECONDS, PinterestAdsProvider
from tether.sandbox import SandboxState
from tether.sandbox.dialects.pinterest import pinterest_id
from tether.sandbox.metrics import day_metrics

VERIFIER = "v" * 64


def today() -> date:
    return datetime.now(UTC).date()


def seconds_until(moment: datetime | None) -> float:
    assert moment is not None
    return (moment - datetime.now(UTC)).total_seconds()


async def test_signing_in_gives_a_30_day_token_and_a_60_day_refresh_token(
    pinterest: PinterestAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(pinterest)

    assert ACCESS_SECONDS - 60 < seconds_until(grant.expires_at) <= ACCESS_SECONDS
    assert grant.refresh_token is not None
    assert REFRESH_SECONDS - 60 < seconds_until(grant.refresh_expires_at) <= REFRESH_SECONDS
    assert grant.scope == "ads:read,user_accounts:read"
    assert sandbox.stats()["users"]["alice"]["token_exchange"] == {"ok": 1, "failed": 0}
    identity = await pinterest.identify(Credentials(access_token=grant.access_token))
    assert (identity.external_user_id, identity.name) == (
        pinterest_id(sandbox.user("alice")),
        "alice",
    )


async def test_every_refresh_hands_out_a_new_refresh_token_with_60_days_ahead(
    pinterest: PinterestAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(pinterest)
    start = datetime.now(UTC)

    with time_machine.travel(start + timedelta(days=29), tick=True):
        first = await pinterest.refresh(refresh_token=grant.refresh_token or "")
        assert REFRESH_SECONDS - 60 < seconds_until(first.refresh_expires_at) <= REFRESH_SECONDS
    with time_machine.travel(start + timedelta(days=29 + 59), tick=True):
        second = await pinterest.refresh(refresh_token=first.refresh_token or "")
        await pinterest.probe(Credentials(access_token=second.access_token))

    # 88 days after consent, far past the first refresh token's 60 days, the grant lives on.
    assert len({grant.refresh_token, first.refresh_token, second.refresh_token}) == 3
    assert sandbox.stats()["users"]["alice"]["token_refresh"] == {"ok": 2, "failed": 0}


async def test_a_refresh_token_unused_for_60_days_is_refused_as_a_dead_grant(
    pinterest: PinterestAdsProvider,
) -> None:
    grant = await sign_in(pinterest)

    later = time_machine.travel(datetime.now(UTC) + timedelta(days=61), tick=True)
    with later, pytest.raises(ProviderCallError) as refused:
        await pinterest.refresh(refresh_token=grant.refresh_token or "")

    assert (refused.value.reason, refused.value.message) == (
        Reason.TOKEN_REVOKED,
        "The authorization grant is invalid",
    )


async def test_a_code_used_twice_is_refused_in_pinterests_words_and_is_no_lapse(
    pinterest: PinterestAdsProvider,
) -> None:
    url = pinterest.authorize_url(state="st-2", code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)
    code = query_of(await consent(url))["code"]
    await pinterest.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)

    with pytest.raises(ProviderCallError) as refused:
        await pinterest.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)

    assert (refused.value.reason, refused.value.message) == (
        Reason.UNKNOWN,
        "The authorization grant is invalid",
    )


async def test_a_wrong_app_secret_is_the_operators_to_fix_and_is_never_shown(
    pinterest: PinterestAdsProvider,
    sandbox: SandboxState,
    sandbox_url: str,
    http: httpx.AsyncClient,
) -> None:
    grant = await sign_in(pinterest)
    wrong = registry_for(http, sandbox_url, client_id="tether", client_secret="wrong-s3cret-42")
    misconfigured = wrong.providers["pinterest_ads"]

    with pytest.raises(ProviderCallError) as at_sign_in:
        await sign_in(misconfigured)
    with pytest.raises(ProviderCallError) as at_refresh:
        await misconfigured.refresh(refresh_token=grant.refresh_token or "")

    for refused in (at_sign_in.value, at_refresh.value):
        assert (refused.reason, refused.message, refused.status) == (
            Reason.UNKNOWN,
            "Authentication failed.",
            401,
        )
        assert "wrong-s3cret-42" not in f"{refused!s} {refused!r} {vars(refused)}"


async def test_discovery_pages_through_every_ad_account_250_at_a_time(
    pinterest: PinterestAdsProvider, sandbox: SandboxState
) -> None:
    sandbox.create_accounts(300, users=["alice"], currency="EUR")
    credentials = await signed_in(pinterest)

    accounts = await pinterest.list_accounts(credentials)

    assert [a.external_id for a in accounts] == sandbox.reachable_account_ids("u_alice")
    assert len(accounts) == 9 + 300
    assert all(a.currency for a in accounts)
    assert accounts[-1].currency == "EUR"
    assert sandbox.stats()["users"]["alice"]["accounts"] == {"ok": 2, "failed": 0}


async def test_the_daily_report_has_the_platforms_figures_for_90_days_in_one_call(
    pinterest: PinterestAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(pinterest)
    account = sandbox.accounts[sandbox.reachable_account_ids("u_alice")[0]]
    start = today() - timedelta(days=89)

    days = await pinterest.fetch_daily(credentials, account_id=account.id, start=start, end=today())

    assert [d.day for d in days] == [start + timedelta(days=n) for n in range(90)]
    for metrics in days:
        expected = day_metrics(account, metrics.day)
        assert (metrics.impressions, metrics.clicks, metrics.conversions) == (
            expected["impressions"],
            expected["clicks"],
            expected["conversions"],
        )
        assert metrics.spend == Decimal(expected["spend"])  # from micros
    assert sandbox.stats()["users"]["alice"]["metrics"] == {"ok": 1, "failed": 0}


async def test_a_day_pinterest_leaves_out_is_loaded_as_zeros(
    pinterest: PinterestAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(pinterest)
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    # The sandbox keeps only the last 2 days, so Pinterest answers no row for the others.
    sandbox.update_settings(history_days=2)

    days = await pinterest.fetch_daily(
        credentials, account_id=account_id, start=today() - timedelta(days=5), end=today()
    )

    assert len(days) == 6
    assert [d.impressions for d in days[:3]] == [0, 0, 0]
    assert all(d.impressions > 0 for d in days[3:])


async def test_history_reaches_back_90_days_and_no_further(
    pinterest: PinterestAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(pinterest)
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    oldest = today() - timedelta(days=89)

    kept = await pinterest.fetch_daily(credentials, account_id=account_id, start=oldest, end=oldest)
    too_old = oldest - timedelta(days=2)
    with pytest.raises(ProviderCallError) as refused:
        await pinterest.fetch_daily(credentials, account_id=account_id, start=too_old, end=oldest)

    assert kept[0].impressions > 0
    assert (refused.value.reason, refused.value.message) == (
        Reason.UNKNOWN,
        "You can only get data from the last 90 days.",
    )


@pytest.mark.parametrize("switch", ["revoke", "expire", "password"])
async def test_a_dead_grant_says_authentication_failed_and_its_refresh_is_refused(
    pinterest: PinterestAdsProvider, sandbox: SandboxState, switch: str
) -> None:
    grant = await sign_in(pinterest)
    if switch == "password":
        sandbox.change_password("alice", "a-new-password")
    else:
        sandbox.act_on_user_grants("alice", switch)

    with pytest.raises(ProviderCallError) as probed:
        await pinterest.probe(Credentials(access_token=grant.access_token))
    with pytest.raises(ProviderCallError) as refreshed:
        await pinterest.refresh(refresh_token=grant.refresh_token or "")

    # Pinterest says the same of each death: an expired token, then a grant it will not honour.
    assert (probed.value.reason, probed.value.message) == (
        Reason.TOKEN_EXPIRED,
        "Authentication failed.",
    )
    assert (refreshed.value.reason, refreshed.value.message) == (
        Reason.TOKEN_REVOKED,
        "The authorization grant is invalid",
    )


async def test_an_access_token_that_ended_early_is_recovered_by_a_refresh(
    pinterest: PinterestAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(pinterest)
    sandbox.act_on_user_grants("alice", "expire-access")

    with pytest.raises(ProviderCallError) as probed:
        await pinterest.probe(Credentials(access_token=grant.access_token))
    renewed = await pinterest.refresh(refresh_token=grant.refresh_token or "")
    await pinterest.probe(Credentials(access_token=renewed.access_token))

    assert probed.value.reason == Reason.TOKEN_EXPIRED


async def test_an_outage_at_pinterest_is_passing(
    pinterest: PinterestAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(pinterest)
    sandbox.set_faults(down=True)

    with pytest.raises(ProviderCallError) as down:
        await pinterest.probe(credentials)

    assert (down.value.reason, down.value.message, down.value.status) == (
        Reason.PROVIDER_OUTAGE,
        "Something went wrong on our end. Sorry about that.",
        500,
    )


@pytest.mark.parametrize(("reset", "wait"), [(600, 600), (45, 45), (0, None)])
async def test_a_throttle_waits_as_long_as_pinterests_reset_header_says(
    pinterest: PinterestAdsProvider, sandbox: SandboxState, reset: int, wait: float | None
) -> None:
    credentials = await signed_in(pinterest)
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.set_faults(throttle_retry_after=reset)

    with pytest.raises(ProviderCallError) as probed:
        await pinterest.probe(credentials)
    with pytest.raises(ProviderCallError) as loaded:
        await pinterest.fetch_daily(credentials, account_id=account_id, start=today(), end=today())

    for throttled in (probed.value, loaded.value):
        assert (throttled.reason, throttled.retry_after) == (Reason.RATE_LIMITED, wait)
        assert throttled.message.startswith("This request exceeded a rate limit.")


async def test_a_slow_pinterest_is_a_passing_outage(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    credentials = await signed_in(registry_for(http, sandbox_url).providers["pinterest_ads"])
    sandbox.set_faults(slow_ms=1500)

    async with httpx.AsyncClient(timeout=0.3) as impatient:
        pinterest = registry_for(impatient, sandbox_url).providers["pinterest_ads"]
        with pytest.raises(ProviderCallError) as slow:
            await pinterest.probe(credentials)

    assert slow.value.reason == Reason.PROVIDER_OUTAGE
    assert "did not answer in time" in slow.value.message


async def test_an_ad_account_the_user_lost_reads_as_access_removed(
    pinterest: PinterestAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(pinterest)
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.remove_access("alice", account_id)

    with pytest.raises(ProviderCallError) as lost:
        await pinterest.fetch_daily(credentials, account_id=account_id, start=today(), end=today())

    assert (lost.value.reason, lost.value.message, lost.value.status) == (
        Reason.ACCESS_REMOVED,
        "You are not permitted to access that resource.",
        403,
    )
    assert account_id not in {a.external_id for a in await pinterest.list_accounts(credentials)}


async def test_revoking_leaves_the_grant_to_the_member_since_pinterest_cannot(
    pinterest: PinterestAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(pinterest)

    await pinterest.revoke(token=grant.access_token)

    (held,) = sandbox.grants_for("alice")
    assert held.revoked_reason is None
    assert sandbox.stats()["users"]["alice"]["revoke"] == {"ok": 0, "failed": 0}
    await pinterest.probe(Credentials(access_token=grant.access_token))
