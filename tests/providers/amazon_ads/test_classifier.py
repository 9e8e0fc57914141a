"""Amazon Ads' errors read by its definition: the documented and observed bodies (research notes
A1-A5; the Amazon Ads API's error table; answers quoted by Airbyte's, Peddler's and other
clients) give the right reason and keep Amazon's own words; a throttle waits as long as
Retry-After says; a report's rows become Tether's days; the production URLs are Amazon's."""

import gzip
import json
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tether.config import ProviderSettings, Settings
from tether.providers.amazon_ads import AMAZON_ADS, BASES, AmazonAdsProvider
from tether.providers.amazon_reports import (
    daily_metrics,
    duplicate_of,
    report_request,
    rows_of,
)
from tether.providers.base import Credentials, ProviderCallError, Reason
from tether.providers.registry import build_registry

REFRESH_REFUSED = (
    "The request has an invalid grant parameter : refresh_token. User may have revoked or "
    "didn't grant the permission."
)


@pytest.fixture
async def amazon() -> AsyncIterator[AmazonAdsProvider]:
    async with httpx.AsyncClient() as http:
        yield AmazonAdsProvider(AMAZON_ADS, http=http, bases=BASES)


# (HTTP status, Amazon's body, reason, the words Tether keeps).
DOCUMENTED: list[tuple[int, Any, Reason, str]] = [
    # A token the API no longer takes (amazon-advertising-api-php-sdk issue 10): it does not say
    # why, so Tether refreshes, and the refresh says the rest.
    (
        401,
        {"code": "401", "details": "Authentication failed", "requestId": "K144VZX9J0CCDG4229C5"},
        Reason.TOKEN_EXPIRED,
        "Authentication failed",
    ),
    # The error table's 401s naming a profile: the grant no longer manages it.
    (
        401,
        {"code": "UNAUTHORIZED", "details": "Not authorized to access scope 3312345678901234"},
        Reason.ACCESS_REMOVED,
        "Not authorized to access scope 3312345678901234",
    ),
    (
        401,
        {"code": "UNAUTHORIZED", "details": "No matching advertiser found for scope 1234"},
        Reason.ACCESS_REMOVED,
        "No matching advertiser found for scope 1234",
    ),
    (
        403,
        {"code": "403", "details": "Not authorized to access scope 1234"},
        Reason.ACCESS_REMOVED,
        "Not authorized to access scope 1234",
    ),
    (403, {}, Reason.ACCESS_REMOVED, "Amazon Ads answered HTTP 403 without a message."),
    # The API Gateway's throttle (ads-advanced-tools-docs issue 102).
    (429, {"message": "Too Many Requests"}, Reason.RATE_LIMITED, "Too Many Requests"),
    # A duplicate report request names the report under way: never a lapse.
    (
        425,
        {
            "code": "425",
            "detail": "The Request is a duplicate of : a15115d8-3da4-49a4-95d5-cc0a3af5f85d",
        },
        Reason.UNKNOWN,
        "The Request is a duplicate of : a15115d8-3da4-49a4-95d5-cc0a3af5f85d",
    ),
    # Refusals of Tether's own request (Airbyte's source-amazon-ads): retried, never a lapse.
    (
        406,
        {"code": "406", "details": "Report date is too far in the past."},
        Reason.UNKNOWN,
        "Report date is too far in the past.",
    ),
    (
        400,
        {
            "code": "400",
            "details": "KDP authors do not have access to Sponsored Brands functionality",
        },
        Reason.UNKNOWN,
        "KDP authors do not have access",
    ),
    (
        404,
        {
            "code": "NOT_FOUND",
            "details": "Could not find resource for full path: "
            "http://advertising-api.amazon.com/sb/v4/campaigns",
        },
        Reason.UNKNOWN,
        "Could not find resource for full path",
    ),
    (500, {}, Reason.PROVIDER_OUTAGE, "Amazon Ads answered HTTP 500 without a message."),
    (502, {"code": "502", "details": "Bad Gateway"}, Reason.PROVIDER_OUTAGE, "Bad Gateway"),
    (504, "<html>Gateway Timeout</html>", Reason.PROVIDER_OUTAGE, "Amazon Ads answered HTTP 504"),
    # Login with Amazon's token endpoint (OAuth's errors; the words quoted by its clients).
    (
        400,
        {"error_description": REFRESH_REFUSED, "error": "invalid_grant"},
        Reason.TOKEN_REVOKED,
        REFRESH_REFUSED,
    ),
    (
        400,
        {
            "error_description": "The request has an invalid grant parameter : code",
            "error": "invalid_grant",
        },
        Reason.UNKNOWN,
        "The request has an invalid grant parameter : code",
    ),
    (
        401,
        {"error": "invalid_client", "error_description": "Client authentication failed"},
        Reason.UNKNOWN,
        "Client authentication failed",
    ),
    (
        400,
        {
            "error": "unsupported_grant_type",
            "error_description": "The authorization grant type is not supported by the "
            "authorization server",
        },
        Reason.UNKNOWN,
        "The authorization grant type is not supported",
    ),
    (
        400,
        {
            "error": "invalid_request",
            "error_description": "The request is missing a required parameter : refresh_token",
        },
        Reason.UNKNOWN,
        "The request is missing a required parameter",
    ),
    (500, {"error": "ServerError"}, Reason.PROVIDER_OUTAGE, "ServerError"),
    # Login with Amazon's customer profile.
    (
        401,
        {
            "error": "invalid_token",
            "error_description": "The access token provided is expired, revoked, malformed, "
            "or invalid for other reasons.",
        },
        Reason.TOKEN_EXPIRED,
        "The access token provided is expired",
    ),
    (403, {"error": "insufficient_scope"}, Reason.SCOPE_MISSING, "insufficient_scope"),
]


@pytest.mark.parametrize(("status", "body", "reason", "words"), DOCUMENTED)
async def test_each_documented_answer_reads_as_its_reason_with_amazons_words(
    amazon: AmazonAdsProvider, status: int, body: Any, reason: Reason, words: str
) -> None:
    found, message = amazon.classify_error(status, body)

    assert found == reason
    assert message.startswith(words)


async def test_a_throttle_waits_as_long_as_retry_after_says_or_tethers_own_back_off(
    amazon: AmazonAdsProvider,
) -> None:
    body = {"message": "Too Many Requests"}

    told = amazon.error_of(429, body, httpx.Headers({"Retry-After": "45"}))
    untold = amazon.error_of(429, body, httpx.Headers())

    assert (told.reason, told.retry_after) == (Reason.RATE_LIMITED, 45)
    assert (untold.reason, untold.retry_after) == (Reason.RATE_LIMITED, None)


def test_a_duplicate_names_the_report_to_wait_for() -> None:
    said = "The Request is a duplicate of : a15115d8-3da4-49a4-95d5-cc0a3af5f85d"

    assert duplicate_of(ProviderCallError(Reason.UNKNOWN, said, status=425)) == (
        "a15115d8-3da4-49a4-95d5-cc0a3af5f85d"
    )
    assert duplicate_of(ProviderCallError(Reason.UNKNOWN, said, status=400)) is None
    assert duplicate_of(ProviderCallError(Reason.UNKNOWN, "Too early", status=425)) is None


def test_a_report_spans_at_most_31_days_and_reaches_95_back() -> None:
    assert AMAZON_ADS.reports is not None
    assert (AMAZON_ADS.reports.max_days_per_call, AMAZON_ADS.reports.history_days) == (31, 95)


def test_the_report_asked_for_is_sponsored_products_by_campaign_per_day() -> None:
    body = report_request(date(2026, 7, 5), date(2026, 7, 10))

    assert (body["startDate"], body["endDate"]) == ("2026-07-05", "2026-07-10")
    assert body["configuration"] == {
        "adProduct": "SPONSORED_PRODUCTS",
        "groupBy": ["campaign"],
        "columns": ["date", "impressions", "clicks", "cost", "purchases7d"],
        "reportTypeId": "spCampaigns",
        "timeUnit": "DAILY",
        "format": "GZIP_JSON",
    }
    assert report_request(date(2026, 7, 5), date(2026, 7, 10)) == body  # a duplicate, if repeated


def test_the_documented_rows_add_up_per_day_and_a_day_without_rows_is_zeros() -> None:
    # The docs' sample file ("Reading your report"), by day.
    rows = [
        {"date": "2022-07-05", "campaignId": 158410630682987, "impressions": 2216, "clicks": 13,
         "cost": 14.5, "purchases7d": 2},
        {"date": "2022-07-05", "campaignId": 158410630682988, "impressions": 3721, "clicks": 10,
         "cost": 9.45, "purchases7d": 2},
    ]  # fmt: skip
    content = gzip.compress(json.dumps(rows).encode())

    days = daily_metrics(rows_of(content), date(2022, 7, 5), date(2022, 7, 6))

    assert [(d.day, d.impressions, d.clicks, d.spend, d.conversions) for d in days] == [
        (date(2022, 7, 5), 5937, 23, Decimal("23.95"), 4),
        (date(2022, 7, 6), 0, 0, Decimal(0), 0),
    ]


@pytest.mark.parametrize("content", [b"\x1f\x8bnot gzip", b'{"rows": []}', b'[{"date": 3}]'])
def test_a_file_tether_cannot_read_is_retried_never_a_lapse(content: bytes) -> None:
    with pytest.raises(ProviderCallError) as unreadable:
        daily_metrics(rows_of(content), date(2022, 7, 5), date(2022, 7, 5))

    assert unreadable.value.reason == Reason.UNKNOWN


async def test_with_credentials_set_amazon_is_reached_at_its_production_urls() -> None:
    settings = Settings(
        sandbox_stands_in_for="",
        providers={
            "amazon_ads": ProviderSettings(
                client_id="amzn1.application-oa2-client.abc", client_secret="s3cr3t"
            )
        },
    )
    async with httpx.AsyncClient() as http:
        registry = build_registry(settings, http)
    amazon = registry.providers["amazon_ads"]

    url = httpx.URL(
        amazon.authorize_url(
            state="st", code_verifier="v" * 43, redirect_uri="https://t.example/cb"
        )
    )

    assert (url.scheme, url.host, url.path) == ("https", "www.amazon.com", "/ap/oa")
    assert url.params["scope"] == "advertising::campaign_management profile"
    assert (url.params["client_id"], url.params["response_type"]) == (
        "amzn1.application-oa2-client.abc",
        "code",
    )
    assert url.params["code_challenge_method"] == "S256"
    assert amazon.oauth is not None
    assert amazon.oauth.endpoints.token_url == "https://api.amazon.com/auth/o2/token"
    assert amazon.oauth.endpoints.revoke_url is None
    assert amazon.url(AMAZON_ADS.identify.url) == "https://api.amazon.com/user/profile"
    assert [amazon.url("{" + r + "}") for r in ("na", "eu", "fe")] == [
        "https://advertising-api.amazon.com",
        "https://advertising-api-eu.amazon.com",
        "https://advertising-api-fe.amazon.com",
    ]
    assert amazon.auth_headers(Credentials(access_token="Atza|t")) == {
        "Authorization": "Bearer Atza|t",
        "Amazon-Advertising-API-ClientId": "amzn1.application-oa2-client.abc",
    }


async def test_the_setup_names_amazons_variables_when_they_are_missing() -> None:
    async with httpx.AsyncClient() as http:
        registry = build_registry(Settings(sandbox_stands_in_for=""), http)

    why = registry.why_unavailable("amazon_ads")

    assert why is not None
    assert why.missing == (
        "TETHER_PROVIDERS__AMAZON_ADS__CLIENT_ID",
        "TETHER_PROVIDERS__AMAZON_ADS__CLIENT_SECRET",
    )
