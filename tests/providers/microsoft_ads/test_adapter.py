"""Microsoft's adapter over real HTTP against the sandbox's Microsoft dialect: the sign-in with
rotating refresh tokens and their 90-day idle end, discovery across customers, the report to
submit, poll and download, every fault switch, and why nothing is revoked."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import time_machine

from tests.fixtures.builders import consent, query_of
from tests.fixtures.platforms import sign_in, signed_in
from tests.providers.microsoft_ads.conftest import REDIRECT_URI, registry_for
from tether.providers.base import Credentials, ProviderCallError, Reason
from tether.providers.microsoft_ads import ACCESS_SECONDS, IDLE_SECONDS, MicrosoftAdsProvider
from tether.sandbox import SandboxState
from tether.sandbox.dialects.microsoft_api import customer_id, user_id
from tether.sandbox.metrics import day_metrics

VERIFIER = "v" * 64


def today() -> date:
    return datetime.now(UTC).date()


def seconds_until(moment: datetime | None) -> float:
    assert moment is not None
    return (moment - datetime.now(UTC)).total_seconds()


def provider(registry_http: httpx.AsyncClient, sandbox_url: str) -> MicrosoftAdsProvider:
    found = registry_for(registry_http, sandbox_url).providers["microsoft_ads"]
    assert isinstance(found, MicrosoftAdsProvider)
    return found


async def test_signing_in_gives_an_hour_long_token_and_a_refresh_token_with_90_idle_days(
    microsoft: MicrosoftAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(microsoft)

    assert ACCESS_SECONDS - 60 < seconds_until(grant.expires_at) <= ACCESS_SECONDS
    assert grant.refresh_token is not None
    assert IDLE_SECONDS - 60 < seconds_until(grant.refresh_expires_at) <= IDLE_SECONDS
    assert grant.scope == "https://ads.microsoft.com/msads.manage"
    assert sandbox.stats()["users"]["alice"]["token_exchange"] == {"ok": 1, "failed": 0}
    identity = await microsoft.identify(Credentials(access_token=grant.access_token))
    assert (identity.external_user_id, identity.name, identity.email) == (
        user_id(sandbox.user("alice")),
        "Alice Martin",
        "alice@sandbox.test",
    )


async def test_every_refresh_hands_out_a_new_refresh_token_and_moves_the_idle_end(
    microsoft: MicrosoftAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(microsoft)
    start = datetime.now(UTC)

    with time_machine.travel(start + timedelta(days=80), tick=True):
        first = await microsoft.refresh(refresh_token=grant.refresh_token or "")
        assert IDLE_SECONDS - 60 < seconds_until(first.refresh_expires_at) <= IDLE_SECONDS
    with time_machine.travel(start + timedelta(days=80 + 85), tick=True):
        second = await microsoft.refresh(refresh_token=first.refresh_token or "")
        await microsoft.probe(Credentials(access_token=second.access_token))

    # 165 days after consent, far past the first refresh token's 90, the grant lives on.
    assert len({grant.refresh_token, first.refresh_token, second.refresh_token}) == 3
    assert sandbox.stats()["users"]["alice"]["token_refresh"] == {"ok": 2, "failed": 0}


async def test_a_refresh_token_unused_for_90_days_lapses_in_microsofts_words(
    microsoft: MicrosoftAdsProvider,
) -> None:
    grant = await sign_in(microsoft)

    later = time_machine.travel(datetime.now(UTC) + timedelta(days=91), tick=True)
    with later, pytest.raises(ProviderCallError) as refused:
        await microsoft.refresh(refresh_token=grant.refresh_token or "")

    assert refused.value.reason == Reason.TOKEN_EXPIRED
    assert refused.value.message.startswith(
        "AADSTS700082: The refresh token has expired due to inactivity."
    )
    assert "Trace ID" not in refused.value.message


async def test_a_code_used_twice_is_refused_in_microsofts_words_and_is_no_lapse(
    microsoft: MicrosoftAdsProvider,
) -> None:
    url = microsoft.authorize_url(state="st-2", code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)
    code = query_of(await consent(url))["code"]
    await microsoft.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)

    with pytest.raises(ProviderCallError) as refused:
        await microsoft.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)

    assert refused.value.reason == Reason.UNKNOWN
    assert refused.value.message.startswith("AADSTS54005: OAuth2 Authorization code was already")


async def test_a_wrong_app_secret_is_the_operators_to_fix_and_is_never_shown(
    microsoft: MicrosoftAdsProvider, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    grant = await sign_in(microsoft)
    wrong = registry_for(http, sandbox_url, client_id="tether", client_secret="wrong-s3cret-42")
    misconfigured = wrong.providers["microsoft_ads"]

    with pytest.raises(ProviderCallError) as at_sign_in:
        await sign_in(misconfigured)
    with pytest.raises(ProviderCallError) as at_refresh:
        await misconfigured.refresh(refresh_token=grant.refresh_token or "")

    for refused in (at_sign_in.value, at_refresh.value):
        assert (refused.reason, refused.status) == (Reason.UNKNOWN, 401)
        assert refused.message.startswith("AADSTS7000215: Invalid client secret provided.")
        assert "wrong-s3cret-42" not in f"{refused!s} {refused!r} {vars(refused)}"


async def test_discovery_pages_through_every_account_1000_at_a_time_with_its_customer(
    microsoft: MicrosoftAdsProvider, sandbox: SandboxState
) -> None:
    sandbox.create_accounts(1200, users=["alice"], currency="EUR")
    credentials = await signed_in(microsoft)

    accounts = await microsoft.list_accounts(credentials)

    assert [a.external_id for a in accounts] == sandbox.reachable_account_ids("u_alice")
    assert len(accounts) == 9 + 1200
    for account in accounts:
        assert account.manager_id == customer_id(sandbox.accounts[account.external_id])
        assert account.currency == sandbox.accounts[account.external_id].currency
    # GetUser once, then two pages of SearchAccounts.
    calls = sandbox.stats()["users"]["alice"]
    assert (calls["me"], calls["accounts"]) == ({"ok": 1, "failed": 0}, {"ok": 2, "failed": 0})


async def test_the_daily_report_has_the_platforms_figures_for_a_year_in_one_report(
    microsoft: MicrosoftAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(microsoft)
    account = (await microsoft.list_accounts(credentials))[0]
    platform = sandbox.accounts[account.external_id]
    start = today() - timedelta(days=365)

    days = await microsoft.fetch_daily(
        credentials,
        account_id=account.external_id,
        start=start,
        end=today(),
        manager_id=account.manager_id,
    )

    assert [d.day for d in days] == [start + timedelta(days=n) for n in range(366)]
    for metrics in days:
        expected = day_metrics(platform, metrics.day)
        assert (metrics.impressions, metrics.clicks, metrics.conversions) == (
            expected["impressions"],
            expected["clicks"],
            expected["conversions"],
        )
        assert (metrics.spend, metrics.currency) == (Decimal(expected["spend"]), platform.currency)
    # One report: submitted, then polled once.
    assert sandbox.stats()["users"]["alice"]["metrics"] == {"ok": 2, "failed": 0}


async def test_a_pending_report_is_polled_until_it_is_ready(
    microsoft: MicrosoftAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(microsoft)
    account = (await microsoft.list_accounts(credentials))[0]
    sandbox.update_settings(report_pending_polls=3)
    microsoft.report_waits = (0.0, 0.0, 0.0, 0.0)

    days = await microsoft.fetch_daily(
        credentials,
        account_id=account.external_id,
        start=today(),
        end=today(),
        manager_id=account.manager_id,
    )

    assert (
        days[0].impressions
        == day_metrics(sandbox.accounts[account.external_id], today())["impressions"]
    )
    assert sandbox.stats()["users"]["alice"]["metrics"] == {"ok": 1 + 4, "failed": 0}


async def test_a_report_that_never_finishes_is_a_passing_failure(
    microsoft: MicrosoftAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(microsoft)
    account = (await microsoft.list_accounts(credentials))[0]
    sandbox.update_settings(report_pending_polls=1000)
    microsoft.report_waits = (0.0, 0.0)

    with pytest.raises(ProviderCallError) as pending:
        await microsoft.fetch_daily(
            credentials,
            account_id=account.external_id,
            start=today(),
            end=today(),
            manager_id=account.manager_id,
        )

    assert pending.value.reason == Reason.UNKNOWN  # retried by the next sync, never a lapse
    assert "was not ready" in pending.value.message


async def test_a_report_without_data_is_days_of_zeros(
    microsoft: MicrosoftAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(microsoft)
    account = (await microsoft.list_accounts(credentials))[0]
    # The sandbox keeps only the last 2 days: Microsoft answers Success without a file.
    sandbox.update_settings(history_days=2)

    days = await microsoft.fetch_daily(
        credentials,
        account_id=account.external_id,
        start=today() - timedelta(days=30),
        end=today() - timedelta(days=10),
        manager_id=account.manager_id,
    )

    assert len(days) == 21
    assert all((d.impressions, d.clicks, d.spend, d.conversions) == (0, 0, 0, 0) for d in days)


async def test_tokens_travel_in_headers_and_the_report_file_is_fetched_without_them(
    sandbox: SandboxState, sandbox_url: str
) -> None:
    sent: list[httpx.Request] = []

    async def keep(request: httpx.Request) -> None:
        sent.append(request)

    async with httpx.AsyncClient(timeout=10, event_hooks={"request": [keep]}) as watched:
        microsoft = provider(watched, sandbox_url)
        grant = await sign_in(microsoft)
        credentials = Credentials(access_token=grant.access_token)
        account = (await microsoft.list_accounts(credentials))[0]
        await microsoft.fetch_daily(
            credentials,
            account_id=account.external_id,
            start=today(),
            end=today(),
            manager_id=account.manager_id,
        )

    (download,) = [r for r in sent if "/download/" in r.url.path]
    assert "authorization" not in download.headers
    assert "developertoken" not in download.headers
    secrets = (grant.access_token, grant.refresh_token or "", "sandbox-developer-token")
    assert not [r.url for r in sent for s in secrets if s in str(r.url)]


@pytest.mark.parametrize(
    ("switch", "reason", "code"),
    [
        ("revoke", Reason.TOKEN_REVOKED, "AADSTS65001"),
        ("expire", Reason.TOKEN_EXPIRED, "AADSTS700082"),
        ("password", Reason.PASSWORD_CHANGED, "AADSTS50173"),
    ],
)
async def test_a_dead_grant_answers_109_and_its_refresh_says_why(
    microsoft: MicrosoftAdsProvider,
    sandbox: SandboxState,
    switch: str,
    reason: Reason,
    code: str,
) -> None:
    grant = await sign_in(microsoft)
    if switch == "password":
        sandbox.change_password("alice", "a-new-password")
    else:
        sandbox.act_on_user_grants("alice", switch)

    with pytest.raises(ProviderCallError) as probed:
        await microsoft.probe(Credentials(access_token=grant.access_token))
    with pytest.raises(ProviderCallError) as refreshed:
        await microsoft.refresh(refresh_token=grant.refresh_token or "")

    assert (probed.value.reason, probed.value.message) == (
        Reason.TOKEN_EXPIRED,
        "Authentication token expired. Please renew it or obtain a new token.",
    )
    assert refreshed.value.reason == reason
    assert refreshed.value.message.startswith(f"{code}: ")


async def test_an_access_token_that_ended_early_is_recovered_by_a_refresh(
    microsoft: MicrosoftAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(microsoft)
    sandbox.act_on_user_grants("alice", "expire-access")

    with pytest.raises(ProviderCallError) as probed:
        await microsoft.probe(Credentials(access_token=grant.access_token))
    renewed = await microsoft.refresh(refresh_token=grant.refresh_token or "")
    await microsoft.probe(Credentials(access_token=renewed.access_token))

    assert probed.value.reason == Reason.TOKEN_EXPIRED


async def test_an_outage_at_microsoft_is_passing(
    microsoft: MicrosoftAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(microsoft)
    sandbox.set_faults(down=True)

    with pytest.raises(ProviderCallError) as down:
        await microsoft.probe(credentials)

    assert (down.value.reason, down.value.message, down.value.status) == (
        Reason.PROVIDER_OUTAGE,
        "An internal error has occurred.",
        500,
    )


async def test_a_throttle_waits_the_minute_microsoft_asks_whatever_the_switch_says(
    microsoft: MicrosoftAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(microsoft)
    account = (await microsoft.list_accounts(credentials))[0]
    sandbox.set_faults(throttle_retry_after=900)

    with pytest.raises(ProviderCallError) as probed:
        await microsoft.probe(credentials)
    with pytest.raises(ProviderCallError) as loaded:
        await microsoft.fetch_daily(
            credentials,
            account_id=account.external_id,
            start=today(),
            end=today(),
            manager_id=account.manager_id,
        )

    for throttled in (probed.value, loaded.value):
        assert (throttled.reason, throttled.retry_after) == (Reason.RATE_LIMITED, 60)
        assert throttled.message.startswith("You have exceeded the number of calls")


async def test_a_slow_microsoft_is_a_passing_outage(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    credentials = await signed_in(provider(http, sandbox_url))
    sandbox.set_faults(slow_ms=1500)

    async with httpx.AsyncClient(timeout=0.3) as impatient:
        with pytest.raises(ProviderCallError) as slow:
            await provider(impatient, sandbox_url).probe(credentials)

    assert slow.value.reason == Reason.PROVIDER_OUTAGE
    assert "did not answer in time" in slow.value.message


async def test_an_account_the_user_lost_reads_as_access_removed(
    microsoft: MicrosoftAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(microsoft)
    account = (await microsoft.list_accounts(credentials))[0]
    sandbox.remove_access("alice", account.external_id)

    with pytest.raises(ProviderCallError) as lost:
        await microsoft.fetch_daily(
            credentials,
            account_id=account.external_id,
            start=today(),
            end=today(),
            manager_id=account.manager_id,
        )

    assert (lost.value.reason, lost.value.message, lost.value.status) == (
        Reason.ACCESS_REMOVED,
        "The user is not authorized to perform this action.",
        403,
    )
    listed = {a.external_id for a in await microsoft.list_accounts(credentials)}
    assert account.external_id not in listed


async def test_revoking_leaves_the_grant_to_the_member_since_microsoft_offers_no_call(
    microsoft: MicrosoftAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(microsoft)

    await microsoft.revoke(token=grant.refresh_token or "")

    (held,) = sandbox.grants_for("alice")
    assert held.revoked_reason is None
    assert sandbox.stats()["users"]["alice"]["revoke"] == {"ok": 0, "failed": 0}
    await microsoft.probe(Credentials(access_token=grant.access_token))
