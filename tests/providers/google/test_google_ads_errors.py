"""Google Ads' answers read by its definition: the documented bodies (research notes G1, G3-G6,
and bodies seen in the wild) give the right reason, Google's own message and the wait."""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tether.providers import answers
from tether.providers.base import DailyMetrics, ProviderCallError, Reason
from tether.providers.google_ads import GOOGLE_ADS, day_of


def _read(status: int, body: Any, headers: dict[str, str] | None = None) -> ProviderCallError:
    return answers.call_error(GOOGLE_ADS.errors, GOOGLE_ADS.name, status, body, headers or {})


def _ads_failure(
    code: int, status: str, message: str, error_code: dict[str, str], words: str, **extra: Any
) -> dict[str, Any]:
    """Google Ads' REST error: google.rpc.Status with a GoogleAdsFailure in its details."""
    error: dict[str, Any] = {"errorCode": error_code, "message": words, **extra}
    failure = {
        "@type": "type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure",
        "errors": [error],
        "requestId": "xN_KaZRHZuU6Rlgt3cM2uQ",
    }
    return {"error": {"code": code, "message": message, "status": status, "details": [failure]}}


UNAUTHENTICATED = "Request had invalid authentication credentials."


@pytest.mark.parametrize(
    ("enum", "reason"),
    [
        ("OAUTH_TOKEN_EXPIRED", Reason.TOKEN_EXPIRED),
        ("OAUTH_TOKEN_REVOKED", Reason.TOKEN_REVOKED),
        ("OAUTH_TOKEN_INVALID", Reason.TOKEN_REVOKED),
        ("OAUTH_TOKEN_DISABLED", Reason.TOKEN_REVOKED),
        ("GOOGLE_ACCOUNT_DELETED", Reason.TOKEN_REVOKED),
        ("NOT_ADS_USER", Reason.ACCESS_REMOVED),
        ("CUSTOMER_NOT_FOUND", Reason.ACCESS_REMOVED),
        ("TWO_STEP_VERIFICATION_NOT_ENROLLED", Reason.ACCESS_REMOVED),
        ("DEVELOPER_TOKEN_INVALID", Reason.UNKNOWN),
    ],
)
def test_each_authentication_error_has_its_reason(enum: str, reason: Reason) -> None:
    words = f"Words of {enum}."
    body = _ads_failure(
        401, "UNAUTHENTICATED", UNAUTHENTICATED, {"authenticationError": enum}, words
    )

    error = _read(401, body)

    assert (error.reason, error.message) == (reason, words)


def test_a_revoked_token_is_revoked_whatever_the_http_status_says() -> None:
    # UNAUTHENTICATED alone would read as an expired token, worth one refresh.
    body = _ads_failure(
        401,
        "UNAUTHENTICATED",
        UNAUTHENTICATED,
        {"authenticationError": "OAUTH_TOKEN_REVOKED"},
        "OAuth token in the header has been revoked.",
    )

    assert _read(401, body).reason == Reason.TOKEN_REVOKED


def test_no_permission_on_a_customer_is_access_removed_with_googles_words() -> None:
    words = (
        "User doesn't have permission to access customer. Note: If you're accessing a client "
        "customer, the manager's customer id must be set in the 'login-customer-id' header. "
        "See https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid"
    )
    body = _ads_failure(
        403,
        "PERMISSION_DENIED",
        "The caller does not have permission",
        {"authorizationError": "USER_PERMISSION_DENIED"},
        words,
    )

    error = _read(403, body)

    assert (error.reason, error.message, error.status) == (Reason.ACCESS_REMOVED, words, 403)


def test_a_cancelled_customer_is_access_removed() -> None:
    body = _ads_failure(
        403,
        "PERMISSION_DENIED",
        "The caller does not have permission",
        {"authorizationError": "CUSTOMER_NOT_ENABLED"},
        "The customer account can't be accessed because it is not yet enabled "
        "or has been deactivated.",
    )

    assert _read(403, body).reason == Reason.ACCESS_REMOVED


@pytest.mark.parametrize(
    "error_code",
    [
        {"authorizationError": "DEVELOPER_TOKEN_NOT_APPROVED"},
        {"authorizationError": "DEVELOPER_TOKEN_PROHIBITED"},
        {"authorizationError": "PROJECT_DISABLED"},
        {"quotaError": "ACCESS_PROHIBITED"},
    ],
)
def test_the_operators_developer_token_problems_are_never_a_lapse(
    error_code: dict[str, str],
) -> None:
    # PERMISSION_DENIED alone would read as access removed: a member would be asked to
    # reconnect for what only the operator can fix.
    body = _ads_failure(
        403,
        "PERMISSION_DENIED",
        "The caller does not have permission",
        error_code,
        "The developer token is not approved.",
    )

    assert _read(403, body).reason == Reason.UNKNOWN


def test_a_missing_developer_token_is_the_operators_problem() -> None:
    # As seen from the API (google/megalista#106): request_error DEVELOPER_TOKEN_PARAMETER_MISSING.
    body = _ads_failure(
        400,
        "INVALID_ARGUMENT",
        "Request contains an invalid argument.",
        {"requestError": "DEVELOPER_TOKEN_PARAMETER_MISSING"},
        "developer-token parameter is missing.",
    )

    error = _read(400, body)

    assert (error.reason, error.message) == (
        Reason.UNKNOWN,
        "developer-token parameter is missing.",
    )


def test_the_daily_quota_waits_as_long_as_google_says() -> None:
    # A v21 answer seen in the wild (PipedreamHQ/pipedream#21554): Basic access spent.
    body = _ads_failure(
        429,
        "RESOURCE_EXHAUSTED",
        "Resource has been exhausted (e.g. check quota).",
        {"quotaError": "RESOURCE_EXHAUSTED"},
        "Too many requests. Retry in 40591 seconds.",
        details={
            "quotaErrorDetails": {
                "rateScope": "DEVELOPER",
                "rateName": "Number of operations for basic access",
                "retryDelay": "40591s",
            }
        },
    )

    error = _read(429, body)

    assert error.reason == Reason.RATE_LIMITED
    assert error.message == "Too many requests. Retry in 40591 seconds."
    assert error.retry_after == 40591


def test_a_short_term_throttle_gives_its_retry_delay() -> None:
    # QuotaErrorDetails (G6): retry_delay is a Duration, written "30s" in JSON.
    body = _ads_failure(
        429,
        "RESOURCE_EXHAUSTED",
        "Resource has been exhausted (e.g. check quota).",
        {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
        "Too many requests. Retry in 30 seconds.",
        details={"quotaErrorDetails": {"rateScope": "ACCOUNT", "retryDelay": "30s"}},
    )

    error = _read(429, body)

    assert (error.reason, error.retry_after) == (Reason.RATE_LIMITED, 30)


def test_a_retry_after_header_longer_than_the_body_wins() -> None:
    body = _ads_failure(
        429,
        "RESOURCE_EXHAUSTED",
        "Resource has been exhausted.",
        {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
        "Too many requests.",
        details={"quotaErrorDetails": {"retryDelay": "5s"}},
    )

    assert _read(429, body, {"retry-after": "60"}).retry_after == 60


@pytest.mark.parametrize(
    ("status", "name"), [(500, "INTERNAL"), (503, "UNAVAILABLE"), (504, "DEADLINE_EXCEEDED")]
)
def test_googles_server_errors_are_an_outage(status: int, name: str) -> None:
    # G5: transient, with no GoogleAdsFailure in them.
    body = {
        "error": {
            "code": status,
            "message": "The service is currently unavailable.",
            "status": name,
        }
    }

    error = _read(status, body)

    assert (error.reason, error.message) == (
        Reason.PROVIDER_OUTAGE,
        "The service is currently unavailable.",
    )


def test_a_dead_grant_at_the_token_endpoint_is_revoked() -> None:
    # G1: Google says the same of an expired and of a revoked refresh token.
    body = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}

    error = _read(400, body)

    assert (error.reason, error.message) == (
        Reason.TOKEN_REVOKED,
        "Token has been expired or revoked.",
    )


def test_missing_scopes_are_scope_missing() -> None:
    body = {
        "error": {
            "code": 403,
            "message": "Request had insufficient authentication scopes.",
            "status": "PERMISSION_DENIED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                    "domain": "googleapis.com",
                }
            ],
        }
    }

    assert _read(403, body).reason == Reason.SCOPE_MISSING


def test_an_api_left_disabled_in_the_cloud_project_is_never_a_lapse() -> None:
    body = {
        "error": {
            "code": 403,
            "status": "PERMISSION_DENIED",
            "message": "Google Ads API has not been used in project 123 before or it is disabled.",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "SERVICE_DISABLED",
                    "domain": "googleapis.com",
                }
            ],
        }
    }

    assert _read(403, body).reason == Reason.UNKNOWN


def test_a_query_google_refuses_is_retried_not_a_lapse() -> None:
    body = _ads_failure(
        400,
        "INVALID_ARGUMENT",
        "Request contains an invalid argument.",
        {"queryError": "UNRECOGNIZED_FIELD"},
        "Unrecognized field in the query: 'metrics.foo'.",
    )

    assert _read(400, body).reason == Reason.UNKNOWN


def test_a_report_row_reads_micros_and_rounds_fractional_conversions() -> None:
    row = {
        "customer": {"resourceName": "customers/1234567890", "currencyCode": "EUR"},
        "metrics": {
            "impressions": "1200",
            "clicks": "31",
            "costMicros": "45678901",
            "conversions": 2.5,
        },
        "segments": {"date": "2025-03-02"},
    }

    assert day_of(row) == DailyMetrics(date(2025, 3, 2), 1200, 31, Decimal("45.678901"), 3, "EUR")


def test_a_row_without_figures_is_a_day_of_zeros() -> None:
    # Protobuf's JSON leaves out fields at their default value.
    row = {"customer": {"resourceName": "customers/1"}, "segments": {"date": "2025-03-02"}}

    day = day_of(row)

    assert (day.impressions, day.clicks, day.spend, day.conversions) == (0, 0, Decimal(0), 0)


@pytest.mark.parametrize(
    "row",
    [
        {"segments": {"date": "yesterday"}},
        {"segments": {"date": "2025-03-02"}, "metrics": {"costMicros": "NaN"}},
        {"segments": {"date": "2025-03-02"}, "metrics": {"impressions": "many"}},
    ],
)
def test_a_row_tether_cannot_read_is_retried_never_a_lapse(row: dict[str, Any]) -> None:
    with pytest.raises(ProviderCallError) as raised:
        day_of(row)

    assert raised.value.reason == Reason.UNKNOWN
