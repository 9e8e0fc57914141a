"""The GA4 adapter end to end over HTTP against the sandbox's GA4 routes: discovery, probe,
daily loads, each sandbox switch as a reason with Google's words, and production URLs."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from tests.providers.google_analytics.dialect import GA_SCOPES, IDENTITY, GoogleSandbox
from tether.config import ProviderSettings, Settings
from tether.providers.base import Credentials, ProviderCallError, Reason
from tether.providers.google_analytics import GoogleAnalyticsProvider
from tether.providers.registry import Registry, build_registry
from tether.sandbox.metrics import day_metrics


def _adapter(registry: Registry) -> GoogleAnalyticsProvider:
    provider = registry.providers["google_analytics"]
    assert isinstance(provider, GoogleAnalyticsProvider)
    return provider


async def _refusal(adapter: GoogleAnalyticsProvider, token: str) -> ProviderCallError:
    """What a health check's probe meets."""
    with pytest.raises(ProviderCallError) as raised:
        await adapter.probe(Credentials(access_token=token))
    return raised.value


async def test_discovery_follows_every_page_of_account_summaries(
    google_sandbox: GoogleSandbox, stand_ins: Registry
) -> None:
    added = google_sandbox.state.create_accounts(441, users=["alice"], name_prefix="Shop")
    credentials = google_sandbox.credentials(GA_SCOPES)

    accounts = await _adapter(stand_ins).list_accounts(credentials)

    assert len(accounts) == 450  # alice's 9, and the 441 added: pages of 200, 200 and 50
    assert google_sandbox.calls("accounts") == {"ok": 3, "failed": 0}
    by_id = {a.external_id: a for a in accounts}
    assert by_id[f"properties/{added[0].id}"].name == added[0].name
    assert len(by_id) == 450


async def test_the_probe_is_one_summary_and_the_report_loads_90_days_in_one_call(
    google_sandbox: GoogleSandbox, stand_ins: Registry
) -> None:
    credentials = google_sandbox.credentials(GA_SCOPES)
    adapter = _adapter(stand_ins)
    account = google_sandbox.state.accounts["1000002"]
    today = datetime.now(UTC).date()

    await adapter.probe(credentials)
    days = await adapter.fetch_daily(
        credentials, account_id="properties/1000002", start=today - timedelta(89), end=today
    )

    assert google_sandbox.calls("accounts") == {"ok": 1, "failed": 0}
    assert google_sandbox.calls("metrics") == {"ok": 1, "failed": 0}
    assert [d.day for d in days] == [today - timedelta(n) for n in range(89, -1, -1)]
    expected = day_metrics(account, days[0].day)
    assert (days[0].impressions, days[0].clicks, days[0].spend, days[0].conversions) == (
        expected["impressions"],
        expected["clicks"],
        Decimal(expected["spend"]),
        expected["conversions"],
    )
    assert {d.currency for d in days} == {account.currency}


async def test_days_the_platform_does_not_serve_are_loaded_as_zeros(
    google_sandbox: GoogleSandbox, stand_ins: Registry
) -> None:
    google_sandbox.state.update_settings(history_days=2)
    credentials = google_sandbox.credentials(GA_SCOPES)
    today = datetime.now(UTC).date()

    days = await _adapter(stand_ins).fetch_daily(
        credentials, account_id="properties/1000002", start=today - timedelta(4), end=today
    )

    assert [d.impressions > 0 for d in days] == [False, False, True, True, True]


async def test_every_dead_token_reads_as_expired_so_the_engine_refreshes_first(
    google_sandbox: GoogleSandbox, stand_ins: Registry
) -> None:
    adapter = _adapter(stand_ins)
    expired, revoked, changed = (google_sandbox.token(GA_SCOPES) for _ in range(3))
    expired_grant, revoked_grant, _ = google_sandbox.grant_ids()
    google_sandbox.state.expire_grant(expired_grant)
    google_sandbox.state.revoke_grant(revoked_grant)
    google_sandbox.state.change_password("alice", "a-new-password")

    for token in (expired, revoked, changed):
        error = await _refusal(adapter, token)
        assert (error.reason, error.status) == (Reason.TOKEN_EXPIRED, 401)
        assert error.message.startswith("Request had invalid authentication credentials.")


async def test_a_lost_property_is_access_removed_in_googles_words_and_leaves_the_listing(
    google_sandbox: GoogleSandbox, stand_ins: Registry
) -> None:
    adapter = _adapter(stand_ins)
    credentials = google_sandbox.credentials(GA_SCOPES)
    google_sandbox.state.remove_access("alice", "1000003")
    today = datetime.now(UTC).date()

    with pytest.raises(ProviderCallError) as raised:
        await adapter.fetch_daily(
            credentials, account_id="properties/1000003", start=today, end=today
        )
    listed = {a.external_id for a in await adapter.list_accounts(credentials)}

    assert raised.value.reason == Reason.ACCESS_REMOVED
    assert raised.value.message == "User does not have sufficient permissions for this property."
    assert "properties/1000003" not in listed
    assert "properties/1000002" in listed


async def test_a_grant_without_the_scope_is_scope_missing(
    google_sandbox: GoogleSandbox, stand_ins: Registry
) -> None:
    error = await _refusal(_adapter(stand_ins), google_sandbox.token(IDENTITY))

    assert error.reason == Reason.SCOPE_MISSING


async def test_an_outage_is_provider_outage_and_a_throttle_says_how_long_to_wait(
    google_sandbox: GoogleSandbox, stand_ins: Registry
) -> None:
    adapter = _adapter(stand_ins)
    token = google_sandbox.token(GA_SCOPES)

    google_sandbox.state.set_faults(down=True)
    down = await _refusal(adapter, token)
    google_sandbox.state.set_faults(down=False, throttle_retry_after=600)
    throttled = await _refusal(adapter, token)

    assert (down.reason, down.message) == (
        Reason.PROVIDER_OUTAGE,
        "The service is currently unavailable.",
    )
    assert (throttled.reason, throttled.retry_after) == (Reason.RATE_LIMITED, 600)
    assert "Quota exceeded" in throttled.message


async def test_a_platform_slower_than_the_timeout_is_an_outage(
    google_sandbox: GoogleSandbox,
) -> None:
    google_sandbox.state.set_user_faults(["alice"], slow_ms=800)
    settings = Settings(
        sandbox_url=google_sandbox.url, sandbox_stands_in_for="google_analytics,youtube"
    )
    async with httpx.AsyncClient(timeout=0.3) as http:
        adapter = _adapter(build_registry(settings, http))
        error = await _refusal(adapter, google_sandbox.token(GA_SCOPES))

    assert error.reason == Reason.PROVIDER_OUTAGE
    assert error.message == "Google Analytics did not answer in time."
    assert await google_sandbox.late_answers("accounts") == 1


async def test_with_client_credentials_and_default_bases_it_calls_googles_production_urls(
    google_http: httpx.AsyncClient,
) -> None:
    google = ProviderSettings(client_id="id.apps.googleusercontent.com", client_secret="s")
    registry = build_registry(Settings(providers={"google": google}), google_http)

    adapter = _adapter(registry)
    consent = adapter.authorize_url(state="st", code_verifier="v" * 43, redirect_uri="https://t/cb")

    assert adapter.url("{analyticsadmin}") == "https://analyticsadmin.googleapis.com"
    assert adapter.url("{analyticsdata}") == "https://analyticsdata.googleapis.com"
    assert adapter.url("{oauth2}/token") == "https://oauth2.googleapis.com/token"
    assert adapter.url("{openidconnect}") == "https://openidconnect.googleapis.com"
    assert consent.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    assert "analytics.readonly" in consent
    assert "access_type=offline" in consent


async def test_without_client_credentials_it_says_which_settings_are_missing(
    google_http: httpx.AsyncClient,
) -> None:
    registry = build_registry(Settings(), google_http)

    why = registry.why_unavailable("google_analytics")
    assert why is not None
    assert why.missing == (
        "TETHER_PROVIDERS__GOOGLE__CLIENT_ID",
        "TETHER_PROVIDERS__GOOGLE__CLIENT_SECRET",
    )
