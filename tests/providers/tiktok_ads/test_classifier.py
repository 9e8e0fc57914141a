"""TikTok's errors read by its definition: the documented bodies (research notes T2-T4) come with
HTTP 200 and give the right reason by their `code`, keeping TikTok's own words; a throttle
waits TikTok's documented window; the report's rows become days; the production URLs."""

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tether.config import ProviderSettings, Settings
from tether.kit.logs import redact
from tether.providers.base import ProviderCallError, Reason
from tether.providers.registry import build_registry
from tether.providers.tiktok_ads import (
    APP_THROTTLE_SECONDS,
    BASES,
    TIKTOK_ADS,
    TikTokAdsProvider,
    day_of,
    report_params,
)


def body(code: int, message: str) -> dict[str, Any]:
    """TikTok's envelope as documented (T2): an error's `data` is empty."""
    return {"code": code, "message": message, "request_id": "20240101120000ABCDEF", "data": {}}


@pytest.fixture
async def tiktok() -> AsyncIterator[TikTokAdsProvider]:
    async with httpx.AsyncClient() as http:
        yield TikTokAdsProvider(TIKTOK_ADS, http=http, bases=BASES)


QPS = (
    "Advertiser (7012345678901234567)'s QPS (12) reaches QPS limit 10 for current path, "
    "request is temporarily restricted."
)
# (code, TikTok's message, reason): lapses (T2, T4), throttles (T2), outages (T2).
DOCUMENTED = [
    (40102, "The access token has expired.", Reason.TOKEN_EXPIRED),
    (40104, "Access token is null, you should set it in http header with key Access-Token.", Reason.TOKEN_REVOKED),  # noqa: E501
    (40105, "Access token is incorrect or has been revoked.", Reason.TOKEN_REVOKED),
    (40106, "The core user is invalid.", Reason.TOKEN_REVOKED),
    (40001, "No permission to perform the related operation.", Reason.ACCESS_REMOVED),
    (40300, "The advertiser does not exist or has been deleted.", Reason.ACCESS_REMOVED),
    (40100, "Requests made too frequently.", Reason.RATE_LIMITED),
    (40016, "Requests made too frequently.", Reason.RATE_LIMITED),
    (40133, QPS, Reason.RATE_LIMITED),
    (50000, "System error", Reason.PROVIDER_OUTAGE),
    (50002, "Error processing request on TikTok side. Please see error message for details.", Reason.PROVIDER_OUTAGE),  # noqa: E501
    (60001, "The system is in maintenance.", Reason.PROVIDER_OUTAGE),
]  # fmt: skip
# The app's setup, a used code or a bad request: retried, never a member's lapse.
NOT_LAPSES = [
    (40101, "Invalid auth_code. Not able to get long-term access_token with an old auth_code."),
    (40110, "The auth_code is canceled. Please re-authorize and try again with a new auth_code."),
    (40113, "The app_id is inconsistent with the token's app information. Please retry after correcting it."),  # noqa: E501
    (40107, "Invalid or incorrect refresh token."),
    (40002, "Time format should be %Y-%m-%dT%H:%M. Please try again."),
    (41000, "The client IP is on the banned country list."),
]  # fmt: skip


@pytest.mark.parametrize(("code", "message", "reason"), DOCUMENTED)
async def test_a_documented_tiktok_error_with_http_200_reads_as_its_reason(
    tiktok: TikTokAdsProvider, code: int, message: str, reason: Reason
) -> None:
    error = tiktok.error_of(200, body(code, message))

    assert (error.reason, error.message) == (reason, message)


@pytest.mark.parametrize(("code", "message"), NOT_LAPSES)
async def test_a_tiktok_error_of_the_app_or_the_request_is_no_lapse(
    tiktok: TikTokAdsProvider, code: int, message: str
) -> None:
    assert tiktok.classify_error(200, body(code, message)) == (Reason.UNKNOWN, message)


async def test_the_code_decides_even_when_written_as_a_string(tiktok: TikTokAdsProvider) -> None:
    error = tiktok.error_of(200, {"code": "40105", "message": "Access token is incorrect."})

    assert error.reason == Reason.TOKEN_REVOKED


async def test_an_answer_that_never_reached_the_api_falls_back_to_its_http_status(
    tiktok: TikTokAdsProvider,
) -> None:
    """A wrong path or method is a 4xx of TikTok's gateway, a server fault a 5xx (T2)."""
    assert tiktok.classify_error(404, {}) == (
        Reason.UNKNOWN,
        "TikTok Ads answered HTTP 404 without a message.",
    )
    assert tiktok.error_of(503, {}).reason == Reason.PROVIDER_OUTAGE


async def test_an_app_wide_throttle_waits_tiktoks_5_minutes_and_an_advertisers_does_not(
    tiktok: TikTokAdsProvider,
) -> None:
    """TikTok sends no rate-limit header (T3); its guide suspends calls over the per-minute
    limit for 5 minutes."""
    assert tiktok.error_of(200, body(40100, "Requests made too frequently.")).retry_after == 300
    assert tiktok.error_of(200, body(40016, "Requests made too frequently.")).retry_after == 300
    assert APP_THROTTLE_SECONDS == 300
    assert tiktok.error_of(200, body(40133, QPS)).retry_after is None
    assert tiktok.error_of(200, body(40105, "Access token is incorrect.")).retry_after is None


async def test_the_app_secret_never_shows_in_a_message() -> None:
    settings = Settings(
        sandbox_stands_in_for="",
        providers={"tiktok_ads": ProviderSettings(client_id="7123", client_secret="s3cr3t-app")},
    )
    async with httpx.AsyncClient() as http:
        tiktok = build_registry(settings, http).providers["tiktok_ads"]

    error = tiktok.error_of(200, body(40002, "secret: s3cr3t-app is not valid for app 7123."))

    assert error.message == "secret: *** is not valid for app 7123."
    assert "s3cr3t-app" not in f"{error!s} {error!r} {vars(error)}"


def test_tiktoks_secret_and_auth_code_are_masked_in_logged_urls() -> None:
    logged = redact(
        "GET /sandbox/tiktok/business/open_api/v1.3/oauth2/advertiser/get/?app_id=7123"
        "&secret=s3cr3t-app HTTP/1.1 200 | GET /oauth/callback?auth_code=c0de-1&code=c0de-1"
        "&state=st4te"
    )

    for secret in ("s3cr3t-app", "c0de-1", "st4te"):
        assert secret not in logged
    assert "app_id=7123" in logged


def test_a_report_row_becomes_a_day_with_figures_read_from_strings() -> None:
    row = {
        "dimensions": {"advertiser_id": "7000", "stat_time_day": "2024-03-05 00:00:00"},
        "metrics": {
            "spend": "56.78",
            "impressions": "1200",
            "clicks": "34",
            "conversion": "-",
            "currency": "EUR",
        },
    }

    day = day_of(row)

    assert (day.day, day.impressions, day.clicks, day.spend, day.conversions, day.currency) == (
        date(2024, 3, 5),
        1200,
        34,
        Decimal("56.78"),
        0,  # TikTok's "-": nothing to count
        "EUR",
    )


@pytest.mark.parametrize(
    "row",
    [
        {"dimensions": {"stat_time_day": "yesterday"}, "metrics": {}},
        {"dimensions": {}, "metrics": {"spend": "1"}},
        {"dimensions": {"stat_time_day": "2024-03-05 00:00:00"}, "metrics": {"spend": "lots"}},
        {"dimensions": {"stat_time_day": "2024-03-05 00:00:00"}, "metrics": "none"},
    ],
)
def test_a_row_tiktok_wrote_otherwise_is_retried_never_a_lapse(row: dict[str, Any]) -> None:
    with pytest.raises(ProviderCallError) as unreadable:
        day_of(row)

    assert unreadable.value.reason == Reason.UNKNOWN


def test_a_range_is_asked_30_days_at_a_time_with_lists_as_json() -> None:
    start = date(2024, 1, 1)

    params = report_params("7000", start, date(2024, 1, 30), page=2)

    assert params == {
        "advertiser_id": "7000",
        "report_type": "BASIC",
        "data_level": "AUCTION_ADVERTISER",
        "dimensions": '["advertiser_id","stat_time_day"]',
        "metrics": '["spend","impressions","clicks","conversion","currency"]',
        "start_date": "2024-01-01",
        "end_date": "2024-01-30",
        "page": "2",
        "page_size": "1000",
    }


def test_the_report_limits_follow_tiktoks_30_days_and_its_widest_attribution_window() -> None:
    reports = TIKTOK_ADS.reports
    assert reports is not None

    assert reports.max_days_per_call == 30  # with stat_time_day (T5)
    # A 28-day click window and today, restated in one call.
    assert 28 + 1 <= reports.restate_days <= reports.max_days_per_call
    assert TIKTOK_ADS.lifetimes.refreshable is False
    assert TIKTOK_ADS.lifetimes.access_seconds is None  # a long-term token has no timer


async def test_with_credentials_set_tiktok_is_reached_at_its_production_urls() -> None:
    settings = Settings(
        sandbox_stands_in_for="",
        providers={"tiktok_ads": ProviderSettings(client_id="7123", client_secret="s3cr3t")},
    )
    async with httpx.AsyncClient() as http:
        registry = build_registry(settings, http)
    tiktok = registry.providers["tiktok_ads"]

    url = httpx.URL(
        tiktok.authorize_url(
            state="st", code_verifier="v" * 43, redirect_uri="https://t.example/cb"
        )
    )

    assert (url.scheme, url.host, url.path) == ("https", "business-api.tiktok.com", "/portal/auth")
    assert dict(url.params) == {
        "app_id": "7123",
        "state": "st",
        "redirect_uri": "https://t.example/cb",
    }  # no client_id, no scope, no PKCE: not OAuth 2.0's consent URL
    assert tiktok.oauth is not None
    api = "https://business-api.tiktok.com/open_api/v1.3"
    assert tiktok.oauth.endpoints.token_url == f"{api}/oauth2/access_token/"
    assert tiktok.oauth.endpoints.revoke_url == f"{api}/oauth2/revoke_token/"
    assert tiktok.url(TIKTOK_ADS.identify.url) == f"{api}/user/info/"
    assert TIKTOK_ADS.accounts.url is not None
    assert tiktok.url(TIKTOK_ADS.accounts.url) == f"{api}/oauth2/advertiser/get/"
