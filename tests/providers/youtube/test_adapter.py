"""The YouTube adapter end to end over HTTP against the sandbox's YouTube routes: discovery,
probe, daily loads, each sandbox switch as a reason with YouTube's words, production URLs."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from tests.providers.google_analytics.dialect import YOUTUBE_SCOPES, GoogleSandbox
from tether.config import ProviderSettings, Settings
from tether.providers.base import Credentials, ProviderCallError, Reason
from tether.providers.registry import Registry, build_registry
from tether.providers.youtube import YouTubeProvider
from tether.sandbox.metrics import day_metrics


def _adapter(registry: Registry) -> YouTubeProvider:
    provider = registry.providers["youtube"]
    assert isinstance(provider, YouTubeProvider)
    return provider


async def _refusal(adapter: YouTubeProvider, token: str) -> ProviderCallError:
    """What a health check's probe meets."""
    with pytest.raises(ProviderCallError) as raised:
        await adapter.probe(Credentials(access_token=token))
    return raised.value


async def test_discovery_follows_every_page_of_channels(
    google_sandbox: GoogleSandbox, stand_ins: Registry
) -> None:
    added = google_sandbox.state.create_accounts(111, users=["alice"], name_prefix="Vlog")
    credentials = google_sandbox.credentials(YOUTUBE_SCOPES)

    channels = await _adapter(stand_ins).list_accounts(credentials)

    assert len(channels) == 120  # alice's 9 and the 111 added, 50 a page
    assert google_sandbox.calls("accounts") == {"ok": 3, "failed": 0}
    assert {c.external_id: c.name for c in channels}[added[-1].id] == added[-1].name


async def test_the_probe_is_one_channel_and_90_days_load_in_one_report(
    google_sandbox: GoogleSandbox, stand_ins: Registry
) -> None:
    credentials = google_sandbox.credentials(YOUTUBE_SCOPES)
    adapter = _adapter(stand_ins)
    account = google_sandbox.state.accounts["1000005"]
    today = datetime.now(UTC).date()

    await adapter.probe(credentials)
    days = await adapter.fetch_daily(
        credentials, account_id="1000005", start=today - timedelta(89), end=today
    )

    assert google_sandbox.calls("accounts") == {"ok": 1, "failed": 0}
    assert google_sandbox.calls("metrics") == {"ok": 1, "failed": 0}
    assert [d.day for d in days] == [today - timedelta(n) for n in range(89, -1, -1)]
    expected = day_metrics(account, days[-1].day)
    assert (days[-1].impressions, days[-1].clicks, days[-1].conversions) == (
        expected["impressions"],
        expected["clicks"],
        expected["conversions"],
    )
    assert {d.spend for d in days} == {Decimal("0.00")}


async def test_every_dead_token_reads_as_expired_so_the_engine_refreshes_first(
    google_sandbox: GoogleSandbox, stand_ins: Registry
) -> None:
    adapter = _adapter(stand_ins)
    expired, revoked, changed = (google_sandbox.token(YOUTUBE_SCOPES) for _ in range(3))
    expired_grant, revoked_grant, _ = google_sandbox.grant_ids()
    google_sandbox.state.expire_grant(expired_grant)
    google_sandbox.state.revoke_grant(revoked_grant)
    google_sandbox.state.change_password("alice", "a-new-password")

    for token in (expired, revoked, changed):
        error = await _refusal(adapter, token)
        assert (error.reason, error.status) == (Reason.TOKEN_EXPIRED, 401)
        assert error.message.startswith("Request had invalid authentication credentials.")


async def test_a_lost_channel_is_access_removed_and_leaves_the_listing(
    google_sandbox: GoogleSandbox, stand_ins: Registry
) -> None:
    adapter = _adapter(stand_ins)
    credentials = google_sandbox.credentials(YOUTUBE_SCOPES)
    google_sandbox.state.remove_access("alice", "1000005")
    today = datetime.now(UTC).date()

    with pytest.raises(ProviderCallError) as raised:
        await adapter.fetch_daily(credentials, account_id="1000005", start=today, end=today)
    listed = {c.external_id for c in await adapter.list_accounts(credentials)}

    assert (raised.value.reason, raised.value.message) == (Reason.ACCESS_REMOVED, "Forbidden")
    assert "1000005" not in listed


async def test_a_throttle_is_a_rate_limit_with_the_wait_and_without_html(
    google_sandbox: GoogleSandbox, stand_ins: Registry
) -> None:
    adapter = _adapter(stand_ins)
    credentials = google_sandbox.credentials(YOUTUBE_SCOPES)
    google_sandbox.state.set_faults(throttle_retry_after=300)
    today = datetime.now(UTC).date()

    probed = await _refusal(adapter, credentials.access_token or "")
    with pytest.raises(ProviderCallError) as loading:
        await adapter.fetch_daily(credentials, account_id="1000005", start=today, end=today)

    assert (probed.reason, probed.retry_after) == (Reason.RATE_LIMITED, 300)
    assert probed.message == (
        "The request cannot be completed because you have exceeded your quota."
    )
    assert (loading.value.reason, loading.value.retry_after) == (Reason.RATE_LIMITED, 300)


async def test_an_outage_is_provider_outage_in_youtubes_words(
    google_sandbox: GoogleSandbox, stand_ins: Registry
) -> None:
    google_sandbox.state.set_user_faults(["alice"], down=True)

    error = await _refusal(_adapter(stand_ins), google_sandbox.token(YOUTUBE_SCOPES))

    assert (error.reason, error.message) == (
        Reason.PROVIDER_OUTAGE,
        "The service is currently unavailable.",
    )


async def test_a_platform_slower_than_the_timeout_is_an_outage(
    google_sandbox: GoogleSandbox,
) -> None:
    google_sandbox.state.set_faults(slow_ms=800)
    settings = Settings(
        sandbox_url=google_sandbox.url, sandbox_stands_in_for="google_analytics,youtube"
    )
    async with httpx.AsyncClient(timeout=0.3) as http:
        error = await _refusal(
            _adapter(build_registry(settings, http)), google_sandbox.token(YOUTUBE_SCOPES)
        )

    assert (error.reason, error.message) == (
        Reason.PROVIDER_OUTAGE,
        "YouTube did not answer in time.",
    )
    assert await google_sandbox.late_answers("accounts") == 1


async def test_with_client_credentials_and_default_bases_it_calls_googles_production_urls(
    google_http: httpx.AsyncClient,
) -> None:
    google = ProviderSettings(client_id="id.apps.googleusercontent.com", client_secret="s")
    registry = build_registry(Settings(providers={"google": google}), google_http)

    adapter = _adapter(registry)
    consent = adapter.authorize_url(state="st", code_verifier="v" * 43, redirect_uri="https://t/cb")

    assert adapter.url("{youtube}/channels") == "https://www.googleapis.com/youtube/v3/channels"
    assert adapter.url("{youtubeanalytics}/v2/reports") == (
        "https://youtubeanalytics.googleapis.com/v2/reports"
    )
    assert consent.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    assert "youtube.readonly" in consent
    assert "yt-analytics.readonly" in consent
    assert registry.info("youtube").email_grouping == "digest"
