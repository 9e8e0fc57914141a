"""LinkedIn's errors read by its definition: the documented bodies (research notes L2, L3, L7)
give the right reason and keep LinkedIn's own words; a throttle waits for the daily reset;
the production URLs are LinkedIn's own."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tether.config import ProviderSettings, Settings
from tether.providers.base import Credentials, Reason
from tether.providers.linkedin_ads import (
    BASES,
    LINKEDIN_ADS,
    LinkedInAdsProvider,
    account_id,
    analytics_query,
    daily_metrics,
    seconds_to_reset,
)
from tether.providers.registry import build_registry


@pytest.fixture
async def linkedin() -> AsyncIterator[LinkedInAdsProvider]:
    async with httpx.AsyncClient() as http:
        yield LinkedInAdsProvider(LINKEDIN_ADS, http=http, bases=BASES)


# (HTTP status, LinkedIn's body, reason): the documented examples, then what the API answers
# for expired, revoked and invalid tokens, throttles and outages.
DOCUMENTED: list[tuple[int, dict[str, Any], Reason]] = [
    (
        401,
        {"message": "Empty oauth2_access_token", "serviceErrorCode": 401, "status": 401},
        Reason.TOKEN_REVOKED,
    ),
    (
        401,
        {
            "status": 401,
            "serviceErrorCode": 65601,
            "code": "REVOKED_ACCESS_TOKEN",
            "message": "The token used in the request has been revoked by the user",
        },
        Reason.TOKEN_REVOKED,
    ),
    (
        401,
        {"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401},
        Reason.TOKEN_REVOKED,
    ),
    (
        401,
        {
            "status": 401,
            "serviceErrorCode": 65602,
            "code": "EXPIRED_ACCESS_TOKEN",
            "message": "The token used in the request has expired",
        },
        Reason.TOKEN_EXPIRED,
    ),
    (
        429,
        {
            "serviceErrorCode": 101,
            "message": "Resource level throttle limit for calls to this resource is reached.",
            "status": 429,
        },
        Reason.RATE_LIMITED,
    ),
    (
        403,
        {
            "status": 403,
            "serviceErrorCode": 100,
            "code": "ACCESS_DENIED",
            "message": "Not enough permissions to access: adAnalytics.GET.20261001",
        },
        Reason.ACCESS_REMOVED,
    ),
    (
        400,
        {
            "error": "invalid_grant",
            "error_description": (
                "The provided authorization grant or refresh token is invalid, expired or revoked."
            ),
        },
        Reason.TOKEN_EXPIRED,
    ),
    (
        401,
        {"error": "invalid_client", "error_description": "Client authentication failed"},
        Reason.UNKNOWN,
    ),
    (503, {"message": "Service Unavailable", "status": 503}, Reason.PROVIDER_OUTAGE),
    (500, {"message": "Internal Server Error", "status": 500}, Reason.PROVIDER_OUTAGE),
    (
        400,
        {"status": 400, "code": "VERSION_MISSING", "message": "A version must be present."},
        Reason.UNKNOWN,
    ),
]


@pytest.mark.parametrize(("status", "body", "reason"), DOCUMENTED)
async def test_each_documented_answer_reads_as_its_reason_with_linkedins_words(
    linkedin: LinkedInAdsProvider, status: int, body: dict[str, Any], reason: Reason
) -> None:
    found, message = linkedin.classify_error(status, body)

    assert found == reason
    assert message == body.get("message", body.get("error_description"))


async def test_a_throttle_without_retry_after_waits_until_midnight_utc(
    linkedin: LinkedInAdsProvider,
) -> None:
    body = {"serviceErrorCode": 101, "message": "Resource level throttle limit.", "status": 429}

    plain = linkedin.error_of(429, body, {})
    told = linkedin.error_of(429, body, {"Retry-After": "30"})

    assert plain.retry_after is not None
    assert abs(plain.retry_after - seconds_to_reset(datetime.now(UTC))) < 5
    assert told.retry_after == 30


def test_only_an_ad_account_urn_names_an_account() -> None:
    assert account_id("urn:li:sponsoredAccount:508915158") == "508915158"
    assert account_id("urn:li:sponsoredAccount:abc") is None
    assert account_id("urn:li:organization:2414183") is None
    assert account_id(None) is None


def test_the_analytics_query_is_written_in_restli_2() -> None:
    query = analytics_query("508915158", date(2026, 1, 30), date(2026, 2, 2))

    assert query == (
        "q=analytics&pivot=ACCOUNT&timeGranularity=DAILY"
        "&dateRange=(start:(year:2026,month:1,day:30),end:(year:2026,month:2,day:2))"
        "&accounts=List(urn%3Ali%3AsponsoredAccount%3A508915158)"
        "&fields=dateRange,impressions,clicks,costInLocalCurrency,"
        "externalWebsiteConversions,oneClickLeads"
    )


def test_elements_become_days_and_a_day_left_out_is_zeros() -> None:
    elements = [
        {
            "dateRange": {
                "start": {"year": 2026, "month": 1, "day": 31},
                "end": {"year": 2026, "month": 1, "day": 31},
            },
            "impressions": 1200,
            "clicks": 31,
            "costInLocalCurrency": "45.678912",
            "externalWebsiteConversions": 3,
            "oneClickLeads": 2,
        },
        {"dateRange": {"start": {"year": "x"}}, "impressions": 9},  # unreadable: left out
    ]

    days = daily_metrics(elements, date(2026, 1, 30), date(2026, 1, 31))

    assert [(d.day, d.impressions, d.clicks, d.spend, d.conversions) for d in days] == [
        (date(2026, 1, 30), 0, 0, Decimal(0), 0),
        (date(2026, 1, 31), 1200, 31, Decimal("45.678912"), 5),
    ]


async def test_with_credentials_set_linkedin_is_reached_at_its_production_urls() -> None:
    settings = Settings(
        sandbox_stands_in_for="",
        providers={"linkedin": ProviderSettings(client_id="86abc", client_secret="s3cr3t")},
    )
    async with httpx.AsyncClient() as http:
        registry = build_registry(settings, http)
    linkedin = registry.providers["linkedin_ads"]

    url = httpx.URL(
        linkedin.authorize_url(
            state="st", code_verifier="v" * 43, redirect_uri="https://t.example/cb"
        )
    )

    assert (url.scheme, url.host, url.path) == (
        "https",
        "www.linkedin.com",
        "/oauth/v2/authorization",
    )
    assert url.params["scope"] == "r_ads r_ads_reporting openid profile"
    assert (url.params["client_id"], url.params["response_type"]) == ("86abc", "code")
    assert "code_challenge" not in url.params  # the web flow with a secret, without PKCE
    assert linkedin.oauth is not None
    endpoints = linkedin.oauth.endpoints
    assert endpoints.token_url == "https://www.linkedin.com/oauth/v2/accessToken"
    assert endpoints.revoke_url == "https://www.linkedin.com/oauth/v2/revoke"
    assert linkedin.url(LINKEDIN_ADS.identify.url) == "https://api.linkedin.com/v2/userinfo"
    assert linkedin.url(LINKEDIN_ADS.probe_url or "").startswith(
        "https://api.linkedin.com/rest/adAccountUsers?q=authenticatedUser"
    )
    headers = linkedin.auth_headers(Credentials(access_token="t"))
    assert headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert headers["LinkedIn-Version"].isdigit()


async def test_the_setup_names_linkedins_variables_when_they_are_missing() -> None:
    async with httpx.AsyncClient() as http:
        registry = build_registry(Settings(sandbox_stands_in_for=""), http)

    why = registry.why_unavailable("linkedin_ads")

    assert why is not None
    assert why.missing == (
        "TETHER_PROVIDERS__LINKEDIN__CLIENT_ID",
        "TETHER_PROVIDERS__LINKEDIN__CLIENT_SECRET",
    )
