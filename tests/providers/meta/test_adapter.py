"""Meta's adapter over real HTTP against the sandbox's Meta dialect: the sign-in and its
long-lived exchange, discovery, the Insights report, every fault switch, revocation."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import time_machine

from tests.fixtures.builders import consent, query_of
from tests.fixtures.fleet import mint_grant
from tests.fixtures.platforms import sign_in, signed_in
from tests.providers.meta.conftest import REDIRECT_URI, registry_for
from tether.providers.base import Credentials, ProviderCallError, Reason
from tether.providers.meta_ads import HISTORY_DAYS, LONG_LIVED_SECONDS, MetaAdsProvider
from tether.sandbox import SandboxState
from tether.sandbox.metrics import day_metrics

VERIFIER = "v" * 64


def today() -> date:
    return datetime.now(UTC).date()


async def test_signing_in_trades_the_short_lived_token_for_the_60_day_one(
    meta: MetaAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(meta)

    assert grant.refresh_token is None
    assert grant.expires_at is not None
    lifetime = (grant.expires_at - datetime.now(UTC)).total_seconds()
    assert LONG_LIVED_SECONDS - 60 < lifetime <= LONG_LIVED_SECONDS
    assert sandbox.stats()["users"]["alice"]["token_exchange"] == {"ok": 2, "failed": 0}
    (held,) = sandbox.grants_for("alice")
    assert held.refresh_token is None
    identity = await meta.identify(Credentials(access_token=grant.access_token))
    assert identity.name == "Alice Martin"
    assert identity.external_user_id.isdigit()


async def test_a_code_used_twice_is_refused_in_metas_words_and_is_no_lapse(
    meta: MetaAdsProvider, sandbox: SandboxState
) -> None:
    url = meta.authorize_url(state="st-2", code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)
    code = query_of(await consent(url))["code"]
    await meta.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)

    with pytest.raises(ProviderCallError) as refused:
        await meta.exchange_code(code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT_URI)

    assert refused.value.reason == Reason.UNKNOWN
    assert refused.value.message == "This authorization code has been used."


async def test_a_refused_exchange_never_shows_the_app_secret(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    wrong = registry_for(http, sandbox_url, client_id="tether", client_secret="wrong-s3cret-42")
    meta = wrong.providers["meta_ads"]
    assert isinstance(meta, MetaAdsProvider)

    with pytest.raises(ProviderCallError) as refused:
        await sign_in(meta)

    assert refused.value.message == "Error validating client secret."
    assert refused.value.reason == Reason.UNKNOWN
    assert "wrong-s3cret-42" not in f"{refused.value!s} {refused.value!r} {vars(refused.value)}"


async def test_with_the_app_secret_set_calls_carry_a_proof_and_still_work(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    own = registry_for(http, sandbox_url, client_id="tether", client_secret="tether-sandbox-secret")
    meta = own.providers["meta_ads"]
    assert isinstance(meta, MetaAdsProvider)
    credentials = await signed_in(meta)

    accounts = await meta.list_accounts(credentials)
    days = await meta.fetch_daily(
        credentials, account_id=accounts[0].external_id, start=today(), end=today()
    )

    assert len(accounts) == 9
    assert len(days) == 1


async def test_discovery_pages_through_every_ad_account(
    meta: MetaAdsProvider, sandbox: SandboxState
) -> None:
    sandbox.create_accounts(230, users=["alice"], currency="EUR")
    credentials = await signed_in(meta)

    accounts = await meta.list_accounts(credentials)

    assert len(accounts) == 9 + 230
    assert len({a.external_id for a in accounts}) == len(accounts)
    assert all(a.external_id.startswith("act_") and a.currency for a in accounts)
    assert accounts[-1].currency == "EUR"
    assert sandbox.stats()["users"]["alice"]["accounts"] == {"ok": 3, "failed": 0}  # 100 a page


async def test_the_daily_report_pages_through_insights_and_has_the_platforms_figures(
    meta: MetaAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(meta)
    account = sandbox.accounts[sandbox.reachable_account_ids("u_alice")[0]]
    start = today() - timedelta(days=119)

    days = await meta.fetch_daily(
        credentials, account_id=f"act_{account.id}", start=start, end=today()
    )

    assert [d.day for d in days] == [start + timedelta(days=n) for n in range(120)]
    for metrics in days:
        expected = day_metrics(account, metrics.day)
        assert (metrics.impressions, metrics.clicks, metrics.conversions) == (
            expected["impressions"],
            expected["clicks"],
            expected["conversions"],  # counted once across Meta's overlapping action types
        )
        assert metrics.spend == Decimal(expected["spend"])
        assert metrics.currency == account.currency
    assert sandbox.stats()["users"]["alice"]["metrics"] == {"ok": 2, "failed": 0}  # 100 a page


async def test_an_ad_account_stored_by_its_number_is_reached_as_act(
    meta: MetaAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(meta)
    number = sandbox.reachable_account_ids("u_alice")[0]

    (day,) = await meta.fetch_daily(credentials, account_id=number, start=today(), end=today())

    assert day.impressions == day_metrics(sandbox.accounts[number], today())["impressions"]


async def test_history_reaches_back_as_far_as_meta_keeps_and_no_further(
    meta: MetaAdsProvider, sandbox: SandboxState
) -> None:
    sandbox.update_settings(history_days=HISTORY_DAYS + 10)
    credentials = await signed_in(meta)
    account_id = "act_" + sandbox.reachable_account_ids("u_alice")[0]
    oldest = today() - timedelta(days=HISTORY_DAYS - 1)

    kept = await meta.fetch_daily(credentials, account_id=account_id, start=oldest, end=oldest)
    with pytest.raises(ProviderCallError) as refused:
        await meta.fetch_daily(
            credentials, account_id=account_id, start=today() - timedelta(days=38 * 31), end=oldest
        )

    assert kept[0].impressions > 0
    assert refused.value.reason == Reason.UNKNOWN
    assert refused.value.message.startswith("(#3018)")


@pytest.mark.parametrize(
    ("switch", "reason", "words"),
    [
        ("expire", Reason.TOKEN_EXPIRED, "Session has expired"),
        ("revoke", Reason.TOKEN_REVOKED, "has not authorized application"),
        ("password", Reason.PASSWORD_CHANGED, "your password was changed"),
        ("down", Reason.PROVIDER_OUTAGE, "Please retry your request later"),
    ],
)
async def test_each_switch_of_the_sandbox_answers_as_meta_would(
    meta: MetaAdsProvider, sandbox: SandboxState, switch: str, reason: Reason, words: str
) -> None:
    credentials = await signed_in(meta)
    if switch == "password":
        sandbox.change_password("alice", "a-new-password")
    elif switch == "down":
        sandbox.set_faults(down=True)
    else:
        sandbox.act_on_user_grants("alice", switch)

    with pytest.raises(ProviderCallError) as failed:
        await meta.probe(credentials)

    assert failed.value.reason == reason
    assert words in failed.value.message


@pytest.mark.parametrize(("retry_after", "wait"), [(600, 600), (90, 120), (0, None)])
async def test_a_throttle_waits_the_minutes_meta_announces(
    meta: MetaAdsProvider, sandbox: SandboxState, retry_after: int, wait: float | None
) -> None:
    credentials = await signed_in(meta)
    account_id = "act_" + sandbox.reachable_account_ids("u_alice")[0]
    sandbox.set_faults(throttle_retry_after=retry_after)

    with pytest.raises(ProviderCallError) as probed:
        await meta.probe(credentials)
    with pytest.raises(ProviderCallError) as loaded:
        await meta.fetch_daily(credentials, account_id=account_id, start=today(), end=today())

    assert (probed.value.reason, probed.value.retry_after) == (Reason.RATE_LIMITED, wait)
    assert probed.value.message.startswith("(#80004)")
    assert (loaded.value.reason, loaded.value.retry_after) == (Reason.RATE_LIMITED, wait)
    assert loaded.value.message.startswith("(#80000)")


async def test_a_slow_meta_is_a_passing_outage(
    sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    credentials = await signed_in(registry_for(http, sandbox_url).providers["meta_ads"])
    sandbox.set_faults(slow_ms=1500)

    async with httpx.AsyncClient(timeout=0.3) as impatient:
        meta = registry_for(impatient, sandbox_url).providers["meta_ads"]
        with pytest.raises(ProviderCallError) as slow:
            await meta.probe(credentials)

    assert slow.value.reason == Reason.PROVIDER_OUTAGE
    assert "did not answer in time" in slow.value.message


async def test_an_ad_account_the_user_lost_reads_as_access_removed(
    meta: MetaAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(meta)
    number = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.remove_access("alice", number)

    with pytest.raises(ProviderCallError) as lost:
        await meta.fetch_daily(credentials, account_id=f"act_{number}", start=today(), end=today())

    assert lost.value.reason == Reason.ACCESS_REMOVED
    assert f"Object with ID 'act_{number}' does not exist" in lost.value.message
    assert f"act_{number}" not in {a.external_id for a in await meta.list_accounts(credentials)}


async def test_revoking_removes_the_app_at_meta(
    meta: MetaAdsProvider, sandbox: SandboxState
) -> None:
    grant = await sign_in(meta)

    await meta.revoke(token=grant.access_token)

    (held,) = sandbox.grants_for("alice")
    assert held.revoked_reason == "token_revoked"
    with pytest.raises(ProviderCallError) as refused:
        await meta.probe(Credentials(access_token=grant.access_token))
    assert refused.value.reason == Reason.TOKEN_REVOKED


async def test_the_long_lived_token_lapses_after_60_days(
    meta: MetaAdsProvider, sandbox: SandboxState
) -> None:
    credentials = await signed_in(meta)

    with time_machine.travel(datetime.now(UTC) + timedelta(days=59), tick=True):
        await meta.probe(credentials)
    later = time_machine.travel(datetime.now(UTC) + timedelta(days=61), tick=True)
    with later, pytest.raises(ProviderCallError) as lapsed:
        await meta.probe(credentials)

    assert lapsed.value.reason == Reason.TOKEN_EXPIRED


@pytest.mark.parametrize(
    ("switch", "reason"), [("revoke", "token_revoked"), ("expire", "token_expired")]
)
async def test_a_grant_minted_in_the_sandbox_lapses_through_the_control_switches(
    meta: MetaAdsProvider, sandbox: SandboxState, switch: str, reason: str
) -> None:
    # As bench/lapse_storm.py does: grants minted in process, used as Meta's, then switched.
    access, _, _ = mint_grant(sandbox, "bob")
    credentials = Credentials(access_token=access)
    await meta.probe(credentials)

    sandbox.act_on_user_grants("bob", switch)

    with pytest.raises(ProviderCallError) as lapsed:
        await meta.probe(credentials)
    assert lapsed.value.reason == reason


async def test_a_system_user_token_works_like_a_key_and_never_expires(
    system_user: MetaAdsProvider, sandbox: SandboxState
) -> None:
    credentials = Credentials(api_key=sandbox.api_key_for("carol"))

    identity = await system_user.identify(credentials)
    accounts = await system_user.list_accounts(credentials)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=400), tick=True):
        await system_user.probe(credentials)
    with pytest.raises(ProviderCallError) as wrong:
        await system_user.probe(Credentials(api_key="EAAB-not-a-token"))

    assert identity.name == "Carol Nguyen"
    assert [a.external_id for a in accounts] == [
        f"act_{n}" for n in sandbox.reachable_account_ids("u_carol")
    ]
    assert wrong.value.reason == Reason.INVALID_API_KEY
