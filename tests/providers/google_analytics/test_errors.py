"""GA4's failed answers, as Google documents them, read as Tether's reasons; and its report
read into daily figures."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tether.providers import answers
from tether.providers.base import ProviderCallError, Reason
from tether.providers.daily import zero_filled
from tether.providers.google_analytics import GOOGLE_ANALYTICS, rows_of


def _read(status: int, body: Any, headers: dict[str, str] | None = None) -> ProviderCallError:
    return answers.call_error(
        GOOGLE_ANALYTICS.errors, GOOGLE_ANALYTICS.name, status, body, headers or {}
    )


def _status(code: int, status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, **extra}}


def test_no_permission_on_a_property_is_access_removed_in_googles_words() -> None:
    # The research notes' G10 example, as the Data API sends it.
    body = _status(
        403, "PERMISSION_DENIED", "User does not have sufficient permissions for this property."
    )

    error = _read(403, body)

    assert error.reason == Reason.ACCESS_REMOVED
    assert error.message == "User does not have sufficient permissions for this property."


def test_spent_property_tokens_are_a_rate_limit_waiting_for_retry_after() -> None:
    body = _status(
        429,
        "RESOURCE_EXHAUSTED",
        "Exhausted property tokens per hour for this property. Wait for the hourly quota.",
    )

    error = _read(429, body, {"retry-after": "120"})

    assert error.reason == Reason.RATE_LIMITED
    assert error.message.startswith("Exhausted property tokens per hour")
    assert error.retry_after == 120


def test_an_expired_access_token_is_token_expired_so_a_refresh_is_tried() -> None:
    body = _status(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential.",
    )

    assert _read(401, body).reason == Reason.TOKEN_EXPIRED


def test_a_grant_without_the_analytics_scope_is_scope_missing() -> None:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        "domain": "googleapis.com",
    }
    body = _status(
        403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.", details=[info]
    )

    assert _read(403, body).reason == Reason.SCOPE_MISSING


def test_an_api_the_operator_did_not_enable_is_no_lapse_of_the_members_grant() -> None:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "SERVICE_DISABLED",
        "domain": "googleapis.com",
    }
    body = _status(
        403,
        "PERMISSION_DENIED",
        "Google Analytics Data API has not been used in project 123 before or it is disabled.",
        details=[info],
    )

    error = _read(403, body)

    assert error.reason == Reason.UNKNOWN
    assert "has not been used in project" in error.message


@pytest.mark.parametrize(
    ("code", "status"), [(503, "UNAVAILABLE"), (500, "INTERNAL"), (504, "DEADLINE_EXCEEDED")]
)
def test_googles_passing_faults_are_an_outage(code: int, status: str) -> None:
    body = _status(code, status, "The service is currently unavailable.")

    assert _read(code, body).reason == Reason.PROVIDER_OUTAGE


def test_a_dead_grant_at_the_token_endpoint_is_revoked() -> None:
    body = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}

    error = _read(400, body)

    assert (error.reason, error.message) == (
        Reason.TOKEN_REVOKED,
        "Token has been expired or revoked.",
    )


def _report(rows: list[tuple[str, list[str]]], currency: str | None = "EUR") -> dict[str, Any]:
    names = ["keyEvents", "advertiserAdImpressions", "advertiserAdCost", "advertiserAdClicks"]
    body: dict[str, Any] = {
        "dimensionHeaders": [{"name": "date"}],
        "metricHeaders": [{"name": n, "type": "TYPE_INTEGER"} for n in names],
        "rows": [
            {
                "dimensionValues": [{"value": day}],
                "metricValues": [{"value": v} for v in values],
            }
            for day, values in rows
        ],
        "rowCount": len(rows),
    }
    if currency:
        body["metadata"] = {"currencyCode": currency}
    return body


def test_rows_are_read_by_their_headers_in_whatever_order_they_come() -> None:
    body = _report(
        [("20250103", ["2.0", "900", "12.3456", "40"]), ("20250101", ["1", "10", "0", "2"])]
    )

    days = rows_of(body, "EUR", "Google Analytics")

    assert [(d.day, d.impressions, d.clicks, d.spend, d.conversions) for d in days] == [
        (date(2025, 1, 3), 900, 40, Decimal("12.35"), 2),
        (date(2025, 1, 1), 10, 2, Decimal("0.00"), 1),
    ]
    assert {d.currency for d in days} == {"EUR"}


def test_days_without_a_row_are_zeros_up_to_today_never_beyond() -> None:
    today = datetime.now(UTC).date()
    served = rows_of(
        _report([((today - timedelta(days=1)).strftime("%Y%m%d"), ["1", "5", "1.5", "2"])]),
        "USD",
        "Google Analytics",
    )

    days = zero_filled(served, today - timedelta(days=2), today + timedelta(days=3), "USD")

    assert [d.day for d in days] == [today - timedelta(days=n) for n in (2, 1, 0)]
    assert [d.impressions for d in days] == [0, 5, 0]
    assert days[0].spend == Decimal("0.00")


def test_a_report_tether_cannot_read_is_an_unknown_failure_never_a_lapse() -> None:
    body = _report([("2025-01-03", ["1", "2", "3", "4"])])

    with pytest.raises(ProviderCallError) as raised:
        rows_of(body, None, "Google Analytics")

    assert raised.value.reason == Reason.UNKNOWN
    assert "cannot read" in raised.value.message
