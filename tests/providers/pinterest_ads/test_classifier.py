"""Pinterest's errors read by its definition: the documented bodies (research notes P5, Pinterest's
OpenAPI examples, the bodies seen by its clients) give the right reason and keep Pinterest's own
words; the rate-limit headers set the wait; the report's rows become Tether's days."""

import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tether.config import ProviderSettings, Settings
from tether.providers import daily
from tether.providers.base import Reason
from tether.providers.pinterest_ads import BASES, PINTEREST_ADS, PinterestAdsProvider
from tether.providers.registry import build_registry


@pytest.fixture
async def pinterest() -> AsyncIterator[PinterestAdsProvider]:
    async with httpx.AsyncClient() as http:
        yield PinterestAdsProvider(PINTEREST_ADS, http=http, bases=BASES)


def body(code: int, message: str, **more: Any) -> dict[str, Any]:
    """Pinterest's error body as documented (OpenAPI `Error`)."""
    return {"code": code, "message": message, **more}


RATE_LIMIT = (
    "This request exceeded a rate limit. This can happen if the client exceeds one of the "
    "published rate limits within a short time window."
)
DISAPPROVED = (
    "Sorry, you cannot perform this action as your account has been disapproved. Please see "
    "business hub for more details. https://www.pinterest.com/business/hub/"
)
SCOPES = (
    "Your token does not have sufficient permissions to perform this operation. Please ensure "
    "your token is authorized with the correct set of scopes."
)
# (HTTP status, body, reason): lapses, throttles and outages as Pinterest words them.
DOCUMENTED = [
    (401, body(2, "Authentication failed."), Reason.TOKEN_EXPIRED),  # P5, OpenAPI
    (401, body(2, "Authentication failed.", status="failure"), Reason.TOKEN_EXPIRED),  # as seen
    (401, body(283, "The authorization grant is invalid"), Reason.TOKEN_REVOKED),
    (400, body(283, "The authorization grant is invalid"), Reason.TOKEN_REVOKED),
    (401, body(3, SCOPES), Reason.SCOPE_MISSING),
    (403, body(29, "You are not permitted to access that resource."), Reason.ACCESS_REMOVED),
    (404, body(2, "AdAccount not found."), Reason.ACCESS_REMOVED),
    (403, body(2625, DISAPPROVED), Reason.ACCESS_REMOVED),
    (429, body(8, RATE_LIMIT), Reason.RATE_LIMITED),
    (500, body(12, "Something went wrong on our end. Sorry about that."), Reason.PROVIDER_OUTAGE),
    (400, body(12, "Something went wrong on our end. Sorry about that."), Reason.PROVIDER_OUTAGE),
    (
        503,
        body(4197, "The endpoint has been ramped down and is currently not accepting any traffic."),
        Reason.PROVIDER_OUTAGE,
    ),
]
# Pinterest's code says what happened: a request Tether made badly is retried, never a lapse.
NOT_LAPSES = [
    (400, body(1, "You can only get data from the last 90 days.")),
    (400, body(400, "Invalid ad account analytics parameters.")),
    (400, body(1, "Parameter 'page_size' was not numeric (was 3e)")),
    (400, body(2, "AdAccount not found.")),  # code 2 means no dead token but on a 401
    (403, body(2626, "We are reviewing your account. Please see business hub for more details.")),
]


@pytest.mark.parametrize(("status", "answer", "reason"), DOCUMENTED)
async def test_a_documented_pinterest_error_reads_as_its_reason_with_its_words(
    pinterest: PinterestAdsProvider, status: int, answer: dict[str, Any], reason: Reason
) -> None:
    error = pinterest.error_of(status, answer)

    assert (error.reason, error.message, error.status) == (reason, answer["message"], status)


@pytest.mark.parametrize(("status", "answer"), NOT_LAPSES)
async def test_a_pinterest_error_of_the_request_is_no_lapse(
    pinterest: PinterestAdsProvider, status: int, answer: dict[str, Any]
) -> None:
    assert pinterest.classify_error(status, answer) == (Reason.UNKNOWN, answer["message"])


async def test_a_throttle_waits_as_long_as_x_ratelimit_reset_says(
    pinterest: PinterestAdsProvider,
) -> None:
    throttled = body(8, RATE_LIMIT)

    assert pinterest.error_of(429, throttled, {"X-RateLimit-Reset": "67150"}).retry_after == 67150
    assert pinterest.error_of(429, throttled, {"x-ratelimit-reset": " 90 "}).retry_after == 90
    both = {"Retry-After": "900", "X-RateLimit-Reset": "120"}
    assert pinterest.error_of(429, throttled, both).retry_after == 900  # the longer of the two
    assert pinterest.error_of(429, throttled, {"X-RateLimit-Reset": "soon"}).retry_after is None
    assert pinterest.error_of(429, throttled).retry_after is None


async def test_a_reset_written_as_a_moment_waits_until_then(
    pinterest: PinterestAdsProvider,
) -> None:
    moment = str(int(time.time()) + 300)

    wait = pinterest.error_of(429, body(8, RATE_LIMIT), {"X-RateLimit-Reset": moment}).retry_after

    assert wait is not None
    assert 290 <= wait <= 300


async def test_a_retry_after_in_the_message_sets_the_wait(
    pinterest: PinterestAdsProvider,
) -> None:
    # The analytics endpoint may throttle with a 400 that names the wait (Airbyte retries it).
    error = pinterest.error_of(400, body(1, "Rate limit exceeded. Retry after 45 seconds."))

    assert (error.reason, error.retry_after) == (Reason.RATE_LIMITED, 45)


async def test_a_reset_header_does_not_delay_what_is_no_throttle(
    pinterest: PinterestAdsProvider,
) -> None:
    error = pinterest.error_of(401, body(2, "Authentication failed."), {"X-RateLimit-Reset": "600"})

    assert (error.reason, error.retry_after) == (Reason.TOKEN_EXPIRED, None)


def test_analytics_rows_become_days_from_micros_and_a_missing_column_is_zero() -> None:
    report = PINTEREST_ADS.report
    assert report is not None
    start = datetime.now(UTC).date() - timedelta(days=2)
    rows = [
        {
            "DATE": start.isoformat(),
            "AD_ACCOUNT_ID": "547602124502",
            "IMPRESSION_1": 4102,
            "CLICKTHROUGH_1": 216,
            "SPEND_IN_MICRO_DOLLAR": 30120000,
            "TOTAL_CONVERSIONS": 7,
        },
        {"DATE": (start + timedelta(days=1)).isoformat(), "AD_ACCOUNT_ID": "547602124502"},
    ]

    days = daily.metrics_of(
        report, rows, start=start, end=start + timedelta(days=2), provider_name="Pinterest Ads"
    )

    first, quiet = days
    assert (first.impressions, first.clicks, first.spend, first.conversions) == (
        4102,
        216,
        Decimal("30.12"),
        7,
    )
    assert (quiet.impressions, quiet.clicks, quiet.spend, quiet.conversions) == (0, 0, 0, 0)


async def test_with_credentials_set_pinterest_is_reached_at_its_production_urls() -> None:
    settings = Settings(
        sandbox_stands_in_for="",
        providers={"pinterest_ads": ProviderSettings(client_id="1484362", client_secret="s3cr3t")},
    )
    async with httpx.AsyncClient() as http:
        registry = build_registry(settings, http)
    pinterest = registry.providers["pinterest_ads"]

    url = httpx.URL(
        pinterest.authorize_url(
            state="st", code_verifier="v" * 43, redirect_uri="https://t.example/cb"
        )
    )

    assert (url.scheme, url.host, url.path) == ("https", "www.pinterest.com", "/oauth/")
    assert url.params["scope"] == "ads:read,user_accounts:read"
    assert (url.params["client_id"], url.params["response_type"]) == ("1484362", "code")
    assert "code_challenge" not in url.params  # Pinterest documents no PKCE
    assert pinterest.oauth is not None
    assert pinterest.oauth.endpoints.token_url == "https://api.pinterest.com/v5/oauth/token"
    assert pinterest.oauth.endpoints.revoke_url is None
    assert pinterest.url(PINTEREST_ADS.identify.url) == "https://api.pinterest.com/v5/user_account"
    assert pinterest.url(PINTEREST_ADS.accounts.url or "") == (
        "https://api.pinterest.com/v5/ad_accounts"
    )
    report = PINTEREST_ADS.report
    assert report is not None
    analytics, _ = daily.request_of(
        report,
        pinterest.bases,
        account_id="547602124502",
        start=date(2026, 1, 1),
        end=date(2026, 1, 2),
    )
    assert analytics == "https://api.pinterest.com/v5/ad_accounts/547602124502/analytics"


def test_the_report_limits_are_pinterests_90_days() -> None:
    reports = PINTEREST_ADS.reports
    assert reports is not None

    assert (reports.max_days_per_call, reports.history_days) == (90, 90)
    assert reports.restate_days >= 30  # 30-day click attribution, booked on the click's day
