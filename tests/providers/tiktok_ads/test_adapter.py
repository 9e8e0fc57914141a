"""TikTok's adapter over real HTTP against the sandbox's TikTok dialect: the authorization and
its long-term token, discovery with currencies, the report 30 days a call, every fault switch,
revocation."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import time_machine

from tests.fixtures.builders import consent, query_of
from tests.fixtures.platforms import sign_in, signed_in
from tests.providers.tiktok_ads.conftest import REDIRECT_URI, registry_for
from tether.providers import tiktok_ads
from tether.providers.base import Credentials, ProviderCallError, Reason
from tether.providers.tiktok_ads import APP_THROTTLE_SECONDS, TikTokAdsProvider
from tether.sandbox import SandboxState
from tether.sandbox.metrics import day_metrics

VERIFIER = "v" * 64


def today() -> date:
    return datetime.now(UTC).date()


async def test_authorizing_gives_a_long_term_token_with_no_end_and_no_refresh(
    tiktok: TikTokAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(tiktok)

    assert (grant.refresh_token, grant.expires_at, grant.refresh_expires_at) == (None, None, None)
    assert grant.scope == "100,44"
    assert sandbox.stats()["users"]["alice"]["token_exchange"] == {"ok": 1, "failed": 0}
    (held,) = sandbox.grants_for("alice")
    assert held.refresh_token is None
    identity = await tiktok.identify(Credentials(access_token=grant.access_token))
    assert (identity.name, identity.email) == ("Alice Martin", "alice@sandbox.test")
    assert identity.external_user_id.isdigit()


async def test_an_auth_code_used_twice_is_refused_in_tiktoks_words_and_is_no_lapse(
    tiktok: TikTokAdsProvider,
) -> None:
    url = tiktok.authorize_url(state="st-2", code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)
    code = query_of(await consent(url))["auth_code"]
    await tiktok.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)

    with pytest.raises(ProviderCallError) as refused:
        await tiktok.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)

    assert refused.value.reason == Reason.UNKNOWN
    assert refused.value.message.startswith("The auth_code is canceled.")


async def test_a_refused_exchange_never_shows_the_app_secret(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    wrong = registry_for(http, sandbox_url, client_id="tether", client_secret="wrong-s3cret-42")
    tiktok = wrong.providers["tiktok_ads"]
    assert isinstance(tiktok, TikTokAdsProvider)

    with pytest.raises(ProviderCallError) as refused:
        await sign_in(tiktok)

    assert (refused.value.reason, refused.value.message) == (
        Reason.UNKNOWN,
        "Invalid app_id or secret.",
    )
    assert "wrong-s3cret-42" not in f"{refused.value!s} {refused.value!r} {vars(refused.value)}"


async def test_discovery_lists_every_advertiser_with_its_currency_100_at_a_time(
    tiktok: TikTokAdsProvider, sandbox: SandboxState
) -> None:
    sandbox.create_accounts(230, users=["alice"], currency="EUR")
    credentials = await signed_in(tiktok)

    accounts = await tiktok.list_accounts(credentials)

    reached = sandbox.reachable_account_ids("u_alice")
    assert [a.external_id for a in accounts] == reached
    assert [a.currency for a in accounts] == [sandbox.accounts[i].currency for i in reached]
    assert accounts[0].name == sandbox.accounts[reached[0]].name
    # advertiser/get once, then advertiser/info for 239 advertisers, 100 at a time.
    assert sandbox.stats()["users"]["alice"]["accounts"] == {"ok": 4, "failed": 0}


async def test_the_daily_report_has_the_platforms_figures_30_days_a_call(
    tiktok: TikTokAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(tiktok)
    account = sandbox.accounts[sandbox.reachable_account_ids("u_alice")[0]]
    start = today() - timedelta(days=74)

    days = await tiktok.fetch_daily(credentials, account_id=account.id, start=start, end=today())

    assert [d.day for d in days] == [start + timedelta(days=n) for n in range(75)]
    for metrics in days:
        expected = day_metrics(account, metrics.day)
        assert (metrics.impressions, metrics.clicks, metrics.conversions) == (
            expected["impressions"],
            expected["clicks"],
            expected["conversions"],
        )
        assert metrics.spend == Decimal(expected["spend"])
        assert metrics.currency == account.currency
    assert sandbox.stats()["users"]["alice"]["metrics"] == {"ok": 3, "failed": 0}  # 30+30+15


async def test_a_report_tiktok_answers_in_pages_is_read_to_its_last_page(
    tiktok: TikTokAdsProvider, sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tiktok_ads, "REPORT_PAGE_SIZE", 7)
    credentials = await signed_in(tiktok)
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    start = today() - timedelta(days=29)

    days = await tiktok.fetch_daily(credentials, account_id=account_id, start=start, end=today())

    assert [d.day for d in days] == [start + timedelta(days=n) for n in range(30)]
    assert all(d.impressions > 0 for d in days)
    assert sandbox.stats()["users"]["alice"]["metrics"] == {"ok": 5, "failed": 0}


async def test_days_tiktok_has_no_figures_for_are_loaded_as_zeros(
    tiktok: TikTokAdsProvider, sandbox: SandboxState
) -> None:
    sandbox.update_settings(history_days=10)
    credentials = await signed_in(tiktok)
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    start = today() - timedelta(days=14)

    days = await tiktok.fetch_daily(credentials, account_id=account_id, start=start, end=today())

    # The sandbox keeps today and the 10 days before it.
    assert [d.impressions == 0 for d in days] == [True] * 4 + [False] * 11
    assert days[0].spend == Decimal(0)


@pytest.mark.parametrize(
    ("switch", "reason", "words"),
    [
        ("expire", Reason.TOKEN_EXPIRED, "Access token has expired."),
        ("revoke", Reason.TOKEN_REVOKED, "Access token is incorrect or has been revoked."),
        ("password", Reason.TOKEN_REVOKED, "Access token is incorrect or has been revoked."),
        ("down", Reason.PROVIDER_OUTAGE, "System error."),
    ],
)
async def test_each_switch_of_the_sandbox_answers_as_tiktok_would(
    tiktok: TikTokAdsProvider, sandbox: SandboxState, switch: str, reason: Reason, words: str
) -> None:
    credentials = await signed_in(tiktok)
    if switch == "password":
        sandbox.change_password("alice", "a-new-password")
    elif switch == "down":
        sandbox.set_faults(down=True)
    else:
        sandbox.act_on_user_grants("alice", switch)

    with pytest.raises(ProviderCallError) as failed:
        await tiktok.probe(credentials)

    assert (failed.value.reason, failed.value.message) == (reason, words)
    assert failed.value.status == 200  # TikTok's own: the code in the body tells


async def test_a_throttle_waits_tiktoks_documented_5_minutes_for_the_app_only(
    tiktok: TikTokAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(tiktok)
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.set_faults(throttle_retry_after=7200)  # TikTok says no wait at all

    with pytest.raises(ProviderCallError) as probed:
        await tiktok.probe(credentials)
    with pytest.raises(ProviderCallError) as loaded:
        await tiktok.fetch_daily(credentials, account_id=account_id, start=today(), end=today())

    assert (probed.value.reason, probed.value.retry_after) == (
        Reason.RATE_LIMITED,
        APP_THROTTLE_SECONDS,
    )
    assert probed.value.message == "Requests made too frequently."
    # One advertiser's per-second limit: Tether's own back-off is already longer.
    assert (loaded.value.reason, loaded.value.retry_after) == (Reason.RATE_LIMITED, None)
    assert loaded.value.message.startswith(f"Advertiser ({account_id})'s QPS")


async def test_a_slow_tiktok_is_a_passing_outage(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    fast = registry_for(http, sandbox_url).providers["tiktok_ads"]
    assert isinstance(fast, TikTokAdsProvider)
    credentials = await signed_in(fast)
    sandbox.set_faults(slow_ms=1500)

    async with httpx.AsyncClient(timeout=0.3) as impatient:
        tiktok = registry_for(impatient, sandbox_url).providers["tiktok_ads"]
        with pytest.raises(ProviderCallError) as slow:
            await tiktok.probe(credentials)

    assert slow.value.reason == Reason.PROVIDER_OUTAGE
    assert "did not answer in time" in slow.value.message


async def test_an_advertiser_the_user_lost_reads_as_access_removed(
    tiktok: TikTokAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(tiktok)
    lost = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.remove_access("alice", lost)

    with pytest.raises(ProviderCallError) as refused:
        await tiktok.fetch_daily(credentials, account_id=lost, start=today(), end=today())

    assert (refused.value.reason, refused.value.message) == (
        Reason.ACCESS_REMOVED,
        f"No permission to operate advertiser {lost}.",
    )
    assert lost not in {a.external_id for a in await tiktok.list_accounts(credentials)}


async def test_revoking_gives_the_token_up_at_tiktok(
    tiktok: TikTokAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(tiktok)

    await tiktok.revoke(token=grant.access_token)

    (held,) = sandbox.grants_for("alice")
    assert held.revoked_reason == "token_revoked"
    with pytest.raises(ProviderCallError) as refused:
        await tiktok.probe(Credentials(access_token=grant.access_token))
    assert refused.value.reason == Reason.TOKEN_REVOKED


async def test_the_long_term_token_still_works_years_later_and_is_never_refreshed(
    tiktok: TikTokAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(tiktok)

    with time_machine.travel(datetime.now(UTC) + timedelta(days=3 * 365), tick=True):
        await tiktok.probe(credentials)
    with pytest.raises(ProviderCallError) as refused:
        await tiktok.refresh(refresh_token="anything")

    assert refused.value.reason == Reason.UNKNOWN  # never a lapse: nothing to refresh
    assert sandbox.stats()["users"]["alice"]["token_refresh"] == {"ok": 0, "failed": 0}
