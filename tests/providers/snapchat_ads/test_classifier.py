"""Snapchat's errors read by its definition: the documented and observed bodies (research notes,
S-rows; Singer's, Airbyte's and rudder-transformer's Snapchat code) give the right reason and
keep Snap's own words, the person's first; a throttle waits as long as Snap says; a day is the
ad account's own; the production URLs are Snap's."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tether.config import ProviderSettings, Settings
from tether.providers.base import Credentials, Reason
from tether.providers.registry import build_registry
from tether.providers.snapchat_ads import BASES, SNAPCHAT_ADS, SnapchatAdsProvider
from tether.providers.snapchat_stats import daily_metrics, stats_params

NOT_AVAILABLE = "We're sorry, but the requested resource is not available at this time"


@pytest.fixture
async def snapchat() -> AsyncIterator[SnapchatAdsProvider]:
    async with httpx.AsyncClient() as http:
        yield SnapchatAdsProvider(SNAPCHAT_ADS, http=http, bases=BASES)


# (HTTP status, Snap's body, reason, the words Tether keeps).
DOCUMENTED: list[tuple[int, Any, Reason, str]] = [
    # The research notes' example (Singer's client.py): not found is never a lapse.
    (
        404,
        {
            "request_status": "ERROR",
            "request_id": "5ebc40...",
            "debug_message": "Resource can not be found",
            "display_message": NOT_AVAILABLE,
            "error_code": "E3003",
        },
        Reason.UNKNOWN,
        NOT_AVAILABLE,
    ),
    # An ad account out of the member's reach (rudder-transformer's fixture).
    (
        403,
        {
            "request_status": "ERROR",
            "request_id": "98e2a602-3cf4-4596-a8f9-7f034161f89a",
            "debug_message": "Caller does not have permission",
            "display_message": NOT_AVAILABLE,
            "error_code": "E3002",
        },
        Reason.ACCESS_REMOVED,
        NOT_AVAILABLE,
    ),
    # A token Snap no longer accepts, in its short body (Airbyte's fixture) or none at all.
    (
        401,
        {"request_status": "ERROR", "request_id": "test_request_id", "msg": "Unauthorized"},
        Reason.TOKEN_EXPIRED,
        "Unauthorized",
    ),
    (
        401,
        "unauthorized",
        Reason.TOKEN_EXPIRED,
        "Snapchat Ads answered HTTP 401 without a message.",
    ),
    (
        429,
        {"request_status": "ERROR", "request_id": "test_request_id", "msg": "Rate limit exceeded"},
        Reason.RATE_LIMITED,
        "Rate limit exceeded",
    ),
    # A DAY query that does not start at the account's midnight (sixfootfour.net): Tether's
    # own mistake, retried.
    (
        400,
        {
            "request_status": "ERROR",
            "request_id": "57ad240f000756e8d435a6cd",
            "debug_message": "Unsupported Stats Query: Timeseries queries with DAY granularity "
            "must have a start time that is the start of day (00:00:00) for the account's "
            "timezone. This account's timezone is: America/Los_Angeles",
            "error_code": "E1008",
        },
        Reason.UNKNOWN,
        "Unsupported Stats Query: Timeseries queries with DAY granularity",
    ),
    # The token endpoint (OAuth's errors).
    (
        400,
        {"error": "invalid_grant", "error_description": "Invalid refresh token."},
        Reason.TOKEN_REVOKED,
        "Invalid refresh token.",
    ),
    (
        400,
        {"error": "invalid_grant", "error_description": "The refresh token has expired."},
        Reason.TOKEN_EXPIRED,
        "The refresh token has expired.",
    ),
    (
        401,
        {"error": "invalid_client", "error_description": "Client authentication failed."},
        Reason.UNKNOWN,
        "Client authentication failed.",
    ),
    (503, {"request_status": "ERROR", "msg": "Service Unavailable"}, Reason.PROVIDER_OUTAGE, ""),
    (500, {}, Reason.PROVIDER_OUTAGE, "Snapchat Ads answered HTTP 500 without a message."),
]


@pytest.mark.parametrize(("status", "body", "reason", "words"), DOCUMENTED)
async def test_each_documented_answer_reads_as_its_reason_with_snaps_words(
    snapchat: SnapchatAdsProvider, status: int, body: Any, reason: Reason, words: str
) -> None:
    found, message = snapchat.classify_error(status, body)

    assert found == reason
    assert message.startswith(words)


async def test_a_throttle_waits_until_snaps_reset_or_its_retry_after_whichever_is_later(
    snapchat: SnapchatAdsProvider,
) -> None:
    body = {"request_status": "ERROR", "msg": "Rate limit exceeded"}
    reset = str(int(datetime.now(UTC).timestamp()) + 120)

    told = snapchat.error_of(429, body, {"Retry-After": "30"})
    reset_later = snapchat.error_of(429, body, {"Retry-After": "30", "X-Rate-Limit-Reset": reset})
    reset_only = snapchat.error_of(429, body, {"x-rate-limit-reset": reset})
    plain = snapchat.error_of(429, body, {})

    assert told.retry_after == 30
    assert reset_later.retry_after is not None
    assert 115 <= reset_later.retry_after <= 121
    assert reset_only.retry_after is not None
    assert abs(reset_only.retry_after - reset_later.retry_after) < 1
    assert plain.retry_after is None  # Tether's own back-off


def test_a_query_runs_from_midnight_to_midnight_in_the_accounts_zone_across_a_dst_change() -> None:
    zone = ZoneInfo("America/Los_Angeles")

    params = stats_params(date(2026, 3, 1), date(2026, 3, 10), zone)

    assert params["start_time"] == "2026-03-01T00:00:00.000-08:00"
    assert params["end_time"] == "2026-03-11T00:00:00.000-07:00"  # summer time from March 8
    assert params["granularity"] == "DAY"
    assert params["fields"] == ("impressions,swipes,spend,conversion_purchases,conversion_sign_ups")


def test_a_day_query_spans_at_most_31_days() -> None:
    assert SNAPCHAT_ADS.reports is not None
    assert SNAPCHAT_ADS.reports.max_days_per_call == 31


def test_points_become_the_accounts_days_in_micros_and_a_day_left_out_is_zeros() -> None:
    zone = ZoneInfo("Asia/Tokyo")
    series = [
        {
            "start_time": "2026-01-30T15:00:00.000Z",  # midnight of the 31st in Tokyo
            "end_time": "2026-01-31T15:00:00.000Z",
            "stats": {
                "impressions": 1200,
                "swipes": 31,
                "spend": 45678912,
                "conversion_purchases": 3,
                "conversion_sign_ups": 2,
            },
        }
    ]

    days = daily_metrics(series, zone, date(2026, 1, 30), date(2026, 1, 31), "JPY")

    assert [(d.day, d.impressions, d.clicks, d.spend, d.conversions, d.currency) for d in days] == [
        (date(2026, 1, 30), 0, 0, Decimal(0), 0, "JPY"),
        (date(2026, 1, 31), 1200, 31, Decimal("45.678912"), 5, "JPY"),
    ]


async def test_with_credentials_set_snapchat_is_reached_at_its_production_urls() -> None:
    settings = Settings(
        sandbox_stands_in_for="",
        providers={"snapchat": ProviderSettings(client_id="snap-app", client_secret="s3cr3t")},
    )
    async with httpx.AsyncClient() as http:
        registry = build_registry(settings, http)
    snapchat = registry.providers["snapchat_ads"]

    url = httpx.URL(
        snapchat.authorize_url(
            state="st", code_verifier="v" * 43, redirect_uri="https://t.example/cb"
        )
    )

    assert (url.scheme, url.host, url.path) == (
        "https",
        "accounts.snapchat.com",
        "/login/oauth2/authorize",
    )
    assert url.params["scope"] == "snapchat-marketing-api"
    assert (url.params["client_id"], url.params["response_type"]) == ("snap-app", "code")
    assert "code_challenge" not in url.params
    assert snapchat.oauth is not None
    endpoints = snapchat.oauth.endpoints
    assert endpoints.token_url == "https://accounts.snapchat.com/login/oauth2/access_token"
    assert endpoints.revoke_url == "https://accounts.snapchat.com/login/oauth2/revoke"
    assert snapchat.url(SNAPCHAT_ADS.identify.url) == "https://adsapi.snapchat.com/v1/me"
    assert snapchat.auth_headers(Credentials(access_token="t")) == {"Authorization": "Bearer t"}


async def test_the_setup_names_snapchats_variables_when_they_are_missing() -> None:
    async with httpx.AsyncClient() as http:
        registry = build_registry(Settings(sandbox_stands_in_for=""), http)

    why = registry.why_unavailable("snapchat_ads")

    assert why is not None
    assert why.missing == (
        "TETHER_PROVIDERS__SNAPCHAT__CLIENT_ID",
        "TETHER_PROVIDERS__SNAPCHAT__CLIENT_SECRET",
    )
    assert registry.info("snapchat_ads").email_grouping == "digest"
