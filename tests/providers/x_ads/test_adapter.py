"""X's adapter over real HTTP against the sandbox's X dialect: OAuth 1.0a's three legs through the
consent page, signed calls, discovery a page at a time, each account's campaigns per day through
stats jobs, a job that never finishes, every fault switch, revocation."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine

from tests.fixtures.builders import consent, query_of
from tests.fixtures.platforms import sign_in, signed_in
from tests.providers.x_ads.conftest import REDIRECT_URI, registry_for
from tether.providers.base import Credentials, DailyMetrics, ProviderCallError, Reason
from tether.providers.x_ads import XAdsProvider
from tether.sandbox import SandboxState
from tether.sandbox.dialects.x_api import account_timezone, x_id
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import NewAccount


def local_today(sandbox: SandboxState, number: str) -> datetime:
    return datetime.now(ZoneInfo(account_timezone(sandbox.accounts[number])))


def assert_figures(sandbox: SandboxState, number: str, days: list[DailyMetrics]) -> None:
    """Each loaded day holds the sandbox's figures of that day of the account."""
    account = sandbox.accounts[number]
    for day in days:
        expected = day_metrics(account, day.day)
        assert (day.impressions, day.clicks, day.conversions) == (
            expected["impressions"],
            expected["clicks"],
            expected["conversions"],
        ), day.day
        assert day.spend == Decimal(expected["spend"])
        assert day.currency == account.currency


async def test_signing_in_gives_a_token_and_its_secret_that_never_expire(
    x: XAdsProvider, sandbox: SandboxState
) -> None:
    started = await x.start_consent(state="s", code_verifier="v", redirect_uri=REDIRECT_URI)
    back = query_of(await consent(started.url))
    grant = await x.finish_consent(
        handle=started.handle, secret=started.secret, code=back["oauth_verifier"], redirect_uri=""
    )

    assert httpx.URL(started.url).params["oauth_token"] == started.handle
    assert started.secret not in started.url  # the request token's secret stays with Tether
    assert grant.token_secret
    assert (grant.refresh_token, grant.expires_at, grant.refresh_expires_at) == (None, None, None)
    credentials = Credentials(access_token=grant.access_token, token_secret=grant.token_secret)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=3 * 365), tick=True):
        identity = await x.identify(credentials)
    assert (identity.name, identity.email) == ("Alice Martin", None)
    assert identity.external_user_id.isdigit()


async def test_a_request_token_serves_one_exchange(x: XAdsProvider) -> None:
    started = await x.start_consent(state="s", code_verifier="v", redirect_uri=REDIRECT_URI)
    verifier = query_of(await consent(started.url))["oauth_verifier"]
    await x.finish_consent(
        handle=started.handle, secret=started.secret, code=verifier, redirect_uri=""
    )

    with pytest.raises(ProviderCallError) as refused:
        await x.finish_consent(
            handle=started.handle, secret=started.secret, code=verifier, redirect_uri=""
        )

    assert (refused.value.reason, refused.value.message) == (
        Reason.UNKNOWN,
        "Invalid request token.",
    )


async def test_a_wrong_consumer_secret_is_the_operators_to_fix(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    x = registry_for(http, sandbox_url, client_id="tether", client_secret="wrong").providers[
        "x_ads"
    ]

    with pytest.raises(ProviderCallError) as refused:
        await x.start_consent(state="s", code_verifier="v", redirect_uri=REDIRECT_URI)

    assert (refused.value.reason, refused.value.message) == (
        Reason.UNKNOWN,
        "Could not authenticate you.",
    )


async def test_discovery_pages_through_more_accounts_than_a_page_holds(
    x: XAdsProvider, sandbox: SandboxState
) -> None:
    sandbox.add_accounts(
        NewAccount(f"Big Agency {n:04d}", "USD", None, ("bob",)) for n in range(1100)
    )
    credentials = await signed_in(x, "bob")

    accounts = await x.list_accounts(credentials)

    reachable = sandbox.reachable_account_ids("u_bob")
    assert [a.external_id for a in accounts] == [x_id("account", n) for n in reachable]
    assert len(accounts) == 1100 + 5
    assert accounts[0].name == sandbox.accounts[reachable[0]].name
    assert sandbox.stats()["users"]["bob"]["accounts"]["ok"] == 2  # 1000 a page


async def test_daily_figures_are_the_accounts_own_per_day_of_its_time_zone(
    x: XAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(x)
    number = sandbox.reachable_account_ids("u_alice")[0]
    end = local_today(sandbox, number).date() - timedelta(days=1)
    start = end - timedelta(days=44)

    days = await x.fetch_daily(
        credentials, account_id=x_id("account", number), start=start, end=end
    )

    assert [d.day for d in days] == [start + timedelta(days=n) for n in range(45)]
    assert_figures(sandbox, number, days)
    calls = sandbox.stats()["users"]["alice"]
    # The account and its funding instrument; for each 30 days active entities and a job per
    # placement; then one look at the four jobs together.
    assert calls["accounts"] == {"ok": 2, "failed": 0}
    assert calls["metrics"] == {"ok": 2 * (1 + 2) + 1, "failed": 0}


async def test_days_the_platform_has_no_figures_for_are_zeros(
    x: XAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(x)
    number = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.update_settings(history_days=5)
    end = local_today(sandbox, number).date() - timedelta(days=1)

    days = await x.fetch_daily(
        credentials, account_id=x_id("account", number), start=end - timedelta(days=9), end=end
    )

    assert len(days) == 10
    assert all(d.impressions == d.clicks == d.conversions == 0 for d in days[:4])
    assert days[-1].impressions > 0


async def test_a_job_that_never_finishes_is_a_passing_outage(
    x: XAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(x)
    number = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.update_settings(report_job_seconds=3600)
    x.job_waits = (0.0, 0.0, 0.0)
    end = local_today(sandbox, number).date()

    with pytest.raises(ProviderCallError) as gave_up:
        await x.fetch_daily(credentials, account_id=x_id("account", number), start=end, end=end)

    assert (gave_up.value.reason, gave_up.value.message) == (
        Reason.PROVIDER_OUTAGE,
        "X Ads did not finish the report in time.",
    )
    # Two jobs (one per placement), looked at together three times.
    assert sandbox.stats()["users"]["alice"]["metrics"]["ok"] == 1 + 2 + 3


async def test_a_lost_account_answers_access_removed_with_xs_code(
    x: XAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(x)
    number = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.remove_access("alice", number)
    today = datetime.now(UTC).date()

    with pytest.raises(ProviderCallError) as refused:
        await x.fetch_daily(credentials, account_id=x_id("account", number), start=today, end=today)

    assert refused.value.reason == Reason.ACCESS_REMOVED
    assert x_id("account", number) in refused.value.message
    assert x_id("account", number) not in {
        a.external_id for a in await x.list_accounts(credentials)
    }


@pytest.mark.parametrize(
    "switch", ["/users/alice/grants/revoke", "/users/alice/grants/expire", "password"]
)
async def test_every_dead_token_reads_as_revoked_in_xs_words(
    x: XAdsProvider, sandbox: SandboxState, http: httpx.AsyncClient, sandbox_url: str, switch: str
) -> None:
    credentials = await signed_in(x)
    if switch == "password":
        sandbox.change_password("alice", "a-new-one")
    else:
        await http.post(f"{sandbox_url}/control{switch}")

    with pytest.raises(ProviderCallError) as lapsed:
        await x.probe(credentials)

    assert (lapsed.value.reason, lapsed.value.message, lapsed.value.status) == (
        Reason.TOKEN_REVOKED,
        "Invalid or expired token.",
        401,
    )


async def test_down_is_a_passing_outage(x: XAdsProvider, sandbox: SandboxState) -> None:
    credentials = await signed_in(x)
    sandbox.set_faults(down=True)

    with pytest.raises(ProviderCallError) as failed:
        await x.probe(credentials)

    assert (failed.value.reason, failed.value.message) == (Reason.PROVIDER_OUTAGE, "Internal error")


async def test_a_throttle_waits_until_xs_reset(x: XAdsProvider, sandbox: SandboxState) -> None:
    credentials = await signed_in(x)
    sandbox.set_faults(throttle_retry_after=900)

    with pytest.raises(ProviderCallError) as throttled:
        await x.probe(credentials)

    assert (throttled.value.reason, throttled.value.message) == (
        Reason.RATE_LIMITED,
        "Rate limit exceeded",
    )
    assert throttled.value.retry_after is not None
    assert 890 <= throttled.value.retry_after <= 900


async def test_revoking_invalidates_the_token_at_x(x: XAdsProvider, sandbox: SandboxState) -> None:
    grant = await sign_in(x)

    await x.revoke(token=grant.access_token, token_secret=grant.token_secret)

    (revoked,) = sandbox.grants_for("alice")
    assert revoked.revoked_reason == "token_revoked"
    assert sandbox.stats()["users"]["alice"]["revoke"] == {"ok": 1, "failed": 0}


async def test_a_call_without_the_token_secret_asks_for_a_new_sign_in(
    x: XAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(x)

    with pytest.raises(ProviderCallError) as refused:
        await x.probe(Credentials(access_token=grant.access_token))

    assert refused.value.reason == Reason.TOKEN_REVOKED
    assert sandbox.stats()["users"]["alice"]["accounts"] == {"ok": 0, "failed": 0}
