"""Meta's errors read by its definition: the documented bodies (research notes M3-M6) give the
right reason and keep Meta's own words, whatever the HTTP status; usage headers set the wait."""

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tether.config import ProviderSettings, Settings
from tether.providers.base import Credentials, Reason
from tether.providers.meta_ads import (
    BASES,
    META_ADS,
    META_ADS_SYSTEM_USER,
    MetaAdsProvider,
    appsecret_proof,
    conversions_of,
    daily_metrics,
    usage_wait,
)
from tether.providers.registry import build_registry
from tether.sandbox.dialects.meta_graph import months_back


def envelope(code: int, subcode: int | None = None, message: str = "...", **more: Any) -> Any:
    """Meta's error envelope as documented (M3)."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": {**error, **more, "fbtrace_id": "AbCdEf"}}


@pytest.fixture
async def adapters() -> AsyncIterator[tuple[MetaAdsProvider, MetaAdsProvider]]:
    async with httpx.AsyncClient() as http:
        yield (
            MetaAdsProvider(META_ADS, http=http, bases=BASES),
            MetaAdsProvider(META_ADS_SYSTEM_USER, http=http, bases=BASES),
        )


EXPIRED = "Error validating access token: Session has expired on Friday, 09-Nov-18 12:00:00 PST."
NO_OBJECT = (
    "Unsupported get request. Object with ID 'act_1' does not exist, cannot be loaded due to "
    "missing permissions, or does not support this operation."
)
# (code, subcode, Meta's message, reason): lapses, throttles (M5, M6), outages, permissions.
DOCUMENTED = [
    (190, 458, "Error validating access token: The user has not authorized application 1.", Reason.TOKEN_REVOKED),  # noqa: E501
    (190, 459, "Error validating access token: You cannot access the app till you log in.", Reason.PASSWORD_CHANGED),  # noqa: E501
    (190, 460, "Error validating access token: The user changed their password.", Reason.PASSWORD_CHANGED),  # noqa: E501
    (190, 463, EXPIRED, Reason.TOKEN_EXPIRED),
    (190, 464, "Error validating access token: The user is not a confirmed user.", Reason.TOKEN_REVOKED),  # noqa: E501
    (190, 467, "Error validating access token: The session is invalid.", Reason.TOKEN_REVOKED),
    (190, None, "Invalid OAuth access token - Cannot parse access token", Reason.TOKEN_REVOKED),
    (102, None, "Session key invalid or no longer valid", Reason.TOKEN_EXPIRED),
    (102, 460, "Session invalidated: the password changed", Reason.PASSWORD_CHANGED),
    (17, 2446079, "User request limit reached", Reason.RATE_LIMITED),
    (613, 1487742, "There have been too many calls from this ad-account.", Reason.RATE_LIMITED),
    (4, 1504022, "(#4) There have been too many calls from this ad-account.", Reason.RATE_LIMITED),
    (4, 1504039, "(#4) Too many calls to the Insights API.", Reason.RATE_LIMITED),
    (4, None, "(#4) Application request limit reached", Reason.RATE_LIMITED),
    (32, None, "(#32) Page request limit reached", Reason.RATE_LIMITED),
    (341, None, "(#341) Application limit reached", Reason.RATE_LIMITED),
    (80000, 2446079, "(#80000) There have been too many calls (ads_insights).", Reason.RATE_LIMITED),  # noqa: E501
    (80004, 2446079, "(#80004) There have been too many calls to this ad-account.", Reason.RATE_LIMITED),  # noqa: E501
    (80014, None, "(#80014) There have been too many calls.", Reason.RATE_LIMITED),
    (1, None, "An unknown error occurred", Reason.PROVIDER_OUTAGE),
    (2, None, "An unexpected error has occurred. Please retry your request later.", Reason.PROVIDER_OUTAGE),  # noqa: E501
    (2, 1504043, "The request took too long; please retry.", Reason.PROVIDER_OUTAGE),
    (-2, 2490547, "Please retry your request later.", Reason.PROVIDER_OUTAGE),
    (10, None, "(#10) Requires ads_read permission", Reason.SCOPE_MISSING),
    (200, None, "(#200) Requires business_management permission", Reason.SCOPE_MISSING),
    (278, None, "(#278) Reading advertisements requires an extended permission", Reason.SCOPE_MISSING),  # noqa: E501
    (294, None, "(#294) Managing advertisements requires an extended permission", Reason.SCOPE_MISSING),  # noqa: E501
    (10, None, "(#10) You do not have sufficient permissions for this ad account", Reason.ACCESS_REMOVED),  # noqa: E501
    (200, None, "(#200) The user does not have permission on this ad account", Reason.ACCESS_REMOVED),  # noqa: E501
    (272, None, "(#272) This Ads API call requires the user to be admin of the ad account.", Reason.ACCESS_REMOVED),  # noqa: E501
    (100, 33, NO_OBJECT, Reason.ACCESS_REMOVED),
]  # fmt: skip
# Meta's code says what happened, so these are never what the HTTP status alone would say.
NOT_LAPSES = [
    (1, None, "Error validating client secret.", Reason.UNKNOWN),
    (3018, None, "(#3018) The start date of the time range cannot be beyond 37 months", Reason.UNKNOWN),  # noqa: E501
    (100, None, "(#100) Invalid parameter", Reason.UNKNOWN),
]  # fmt: skip


@pytest.mark.parametrize(("code", "subcode", "message", "reason"), DOCUMENTED)
@pytest.mark.parametrize("status", [400, 401, 403, 500])
async def test_a_documented_meta_error_reads_as_its_reason_whatever_the_http_status(
    adapters: tuple[MetaAdsProvider, MetaAdsProvider],
    code: int,
    subcode: int | None,
    message: str,
    reason: Reason,
    status: int,
) -> None:
    meta, _ = adapters

    error = meta.error_of(status, envelope(code, subcode, message))

    assert (error.reason, error.message, error.status) == (reason, message, status)


@pytest.mark.parametrize(("code", "subcode", "message", "reason"), NOT_LAPSES)
@pytest.mark.parametrize("status", [400, 403])
async def test_a_meta_error_of_the_setup_or_the_request_is_no_lapse(
    adapters: tuple[MetaAdsProvider, MetaAdsProvider],
    code: int,
    subcode: int | None,
    message: str,
    reason: Reason,
    status: int,
) -> None:
    meta, _ = adapters

    assert meta.classify_error(status, envelope(code, subcode, message)) == (reason, message)


async def test_the_persons_message_is_shown_when_meta_gives_one(
    adapters: tuple[MetaAdsProvider, MetaAdsProvider],
) -> None:
    meta, _ = adapters
    body = envelope(
        190,
        460,
        "Error validating access token: The session has been invalidated.",
        error_user_title="Session invalidated",
        error_user_msg="Your password was changed. Log in again to continue.",
    )

    assert meta.classify_error(400, body) == (
        Reason.PASSWORD_CHANGED,
        "Your password was changed. Log in again to continue.",
    )


async def test_a_dead_system_user_token_is_a_key_to_replace(
    adapters: tuple[MetaAdsProvider, MetaAdsProvider],
) -> None:
    _, system_user = adapters

    for subcode in (None, 458, 460, 463):
        assert system_user.error_of(400, envelope(190, subcode)).reason == Reason.INVALID_API_KEY
    assert system_user.error_of(400, envelope(17, 2446079)).reason == Reason.RATE_LIMITED


def buc(*minutes: int) -> str:
    """`X-Business-Use-Case-Usage` as Meta sends it: usage per business object (M5)."""
    return json.dumps(
        {
            f"{1000 + n}": [
                {
                    "type": "ads_insights",
                    "call_count": 100,
                    "total_cputime": 30,
                    "total_time": 40,
                    "estimated_time_to_regain_access": wait,
                }
            ]
            for n, wait in enumerate(minutes)
        }
    )


async def test_a_throttle_waits_as_long_as_the_usage_header_says(
    adapters: tuple[MetaAdsProvider, MetaAdsProvider],
) -> None:
    meta, _ = adapters
    body = envelope(80000, 2446079, "(#80000) There have been too many calls.")

    error = meta.error_of(400, body, {"X-Business-Use-Case-Usage": buc(0, 7)})

    assert error.reason == Reason.RATE_LIMITED
    assert error.retry_after == 7 * 60
    both = {"Retry-After": "900", "x-business-use-case-usage": buc(2)}
    assert meta.error_of(400, body, both).retry_after == 900  # the longer of the two


async def test_a_usage_header_does_not_delay_what_is_no_throttle(
    adapters: tuple[MetaAdsProvider, MetaAdsProvider],
) -> None:
    meta, _ = adapters

    error = meta.error_of(400, envelope(190, 463), {"X-Business-Use-Case-Usage": buc(9)})

    assert (error.reason, error.retry_after) == (Reason.TOKEN_EXPIRED, None)


def test_usage_headers_read_the_ad_account_reset_and_ignore_what_they_cannot_read() -> None:
    ad_account = json.dumps({"acc_id_util_pct": 100, "reset_time_duration": 300})

    assert usage_wait({"X-Ad-Account-Usage": ad_account}) == 300
    assert usage_wait({"X-Business-Use-Case-Usage": buc(0)}) is None
    assert usage_wait({"X-Business-Use-Case-Usage": "{not json"}) is None
    assert usage_wait({"X-Business-Use-Case-Usage": '{"1": "odd"}'}) is None
    assert usage_wait({}) is None


def test_conversions_count_each_kind_once_across_metas_overlapping_action_types() -> None:
    actions = [
        {"action_type": "link_click", "value": "120"},
        {"action_type": "omni_purchase", "value": "5"},
        {"action_type": "purchase", "value": "5"},
        {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "4"},
        {"action_type": "offsite_conversion.fb_pixel_lead", "value": "3"},
        {"action_type": "complete_registration", "value": "2"},
    ]

    assert conversions_of(actions) == 5 + 3 + 2
    assert conversions_of(None) == 0
    assert conversions_of([{"action_type": "link_click", "value": "9"}]) == 0


def test_insights_rows_become_days_and_a_day_without_delivery_is_zeros() -> None:
    start = datetime.now(UTC).date() - timedelta(days=3)
    rows = [
        {
            "impressions": "1200",
            "clicks": "34",
            "spend": "56.78",
            "actions": [{"action_type": "lead", "value": "2"}],
            "account_currency": "EUR",
            "date_start": start.isoformat(),
            "date_stop": start.isoformat(),
        },
        {"date_start": (start + timedelta(days=2)).isoformat(), "impressions": "7"},
    ]

    days = daily_metrics(rows, start, start + timedelta(days=10))

    assert [d.day for d in days] == [start + timedelta(days=n) for n in range(4)]  # to today
    first, missing, sparse, _ = days
    assert (first.impressions, first.clicks, first.spend, first.conversions, first.currency) == (
        1200,
        34,
        Decimal("56.78"),
        2,
        "EUR",
    )
    assert (missing.impressions, missing.spend, missing.currency) == (0, Decimal(0), "EUR")
    assert (sparse.impressions, sparse.clicks, sparse.spend) == (7, 0, Decimal(0))


def test_the_appsecret_proof_is_the_tokens_hmac_under_the_app_secret() -> None:
    expected = hmac.new(b"app-secret", b"EAAB-token", hashlib.sha256).hexdigest()

    assert appsecret_proof(Credentials(access_token="EAAB-token"), "app-secret") == expected
    assert appsecret_proof(Credentials(api_key="EAAB-token"), "app-secret") == expected
    assert appsecret_proof(Credentials(access_token="EAAB-token"), None) is None


async def test_with_credentials_set_meta_is_reached_at_its_production_urls() -> None:
    settings = Settings(
        sandbox_stands_in_for="",
        providers={"meta": ProviderSettings(client_id="1234567890", client_secret="s3cr3t")},
    )
    async with httpx.AsyncClient() as http:
        registry = build_registry(settings, http)
    meta = registry.providers["meta_ads"]

    url = httpx.URL(
        meta.authorize_url(state="st", code_verifier="v" * 43, redirect_uri="https://t.example/cb")
    )

    assert (url.scheme, url.host, url.path) == ("https", "www.facebook.com", "/v26.0/dialog/oauth")
    assert url.params["scope"] == "ads_read,business_management"
    assert url.params["client_id"] == "1234567890"
    assert "code_challenge" not in url.params  # Meta's ads flow is sent without PKCE
    assert meta.oauth is not None
    assert meta.oauth.endpoints.token_url == "https://graph.facebook.com/v26.0/oauth/access_token"
    assert meta.url(META_ADS.identify.url) == "https://graph.facebook.com/v26.0/me"
    assert registry.available("meta_ads_system_user")  # a token needs no app credentials
    assert registry.providers["meta_ads_system_user"].bases["graph"] == BASES["graph"]


def test_the_report_limits_keep_inside_metas_37_months_on_any_day() -> None:
    reports = META_ADS.reports
    assert reports is not None
    first = date(2027, 1, 1)

    for n in range(2 * 366):
        today = first + timedelta(days=n)
        oldest = today - timedelta(days=reports.history_days - 1)
        assert oldest >= months_back(today, 37), today
    assert reports.restate_days >= 8  # 7-day click attribution, and the day itself
