"""The sandbox as Google Analytics 4: the Admin API's account summaries and the Data API's
runReport, at Google's paths and in its shapes. Sandbox accounts act as GA4 properties (the
property id is the sandbox account id), each in an Analytics account of its own.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request

from tether.sandbox.dialects.google_api import (
    AUTH_CODES,
    INSUFFICIENT_SCOPES,
    INVALID_CREDENTIALS,
    UNAVAILABLE,
    GoogleApiError,
    fault_headers,
    google_caller,
    google_route,
    scope_info,
)
from tether.sandbox.faults import sandbox_state
from tether.sandbox.metrics import day_metrics, served_days
from tether.sandbox.state import SandboxAccount, SandboxError, SandboxState, SandboxUser

SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
NO_PERMISSION = "User does not have sufficient permissions for this property."
TOKENS_EXHAUSTED = (
    "Exhausted property tokens per hour for this property. Wait for the hourly quota to "
    "refresh, or request fewer rows."
)
ADMIN_QUOTA = (
    "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per "
    "user' of service 'analyticsadmin.googleapis.com'."
)
SCHEMA_URL = "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 200
DEFAULT_LIMIT = 10_000
# GA4's numeric metrics Tether asks for, each with its type and its sandbox figure.
METRICS = {
    "advertiserAdImpressions": ("TYPE_INTEGER", "impressions"),
    "advertiserAdClicks": ("TYPE_INTEGER", "clicks"),
    "advertiserAdCost": ("TYPE_CURRENCY", "spend"),
    "keyEvents": ("TYPE_INTEGER", "conversions"),
}


# -- what the YouTube routes share ----------------------------------------------------------


def encode_page_token(account_id: str | None) -> str | None:
    if account_id is None:
        return None
    return base64.urlsafe_b64encode(account_id.encode()).decode().rstrip("=")


def decode_page_token(token: str | None) -> str | None:
    """The cursor a page token stands for; a token that is not one is a bad request."""
    if not token:
        return None
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise SandboxError("invalid_request", "The page token is not valid.") from None


def served(state: SandboxState, first: date, last: date) -> list[date]:
    """The days of a range the sandbox has figures for (none in the future, none too old)."""
    return served_days(first, last, state.settings.history_days)


# -- Google Analytics ------------------------------------------------------------------------


def _refusal(request: Request, error: SandboxError) -> GoogleApiError:
    """A sandbox refusal as GA4 words it (google.rpc.Status)."""
    headers = fault_headers(error)
    reporting = request.url.path.endswith(":runReport")
    if error.code in AUTH_CODES:
        return GoogleApiError(401, INVALID_CREDENTIALS)
    if error.code in ("access_removed", "not_found"):
        # GA4 does not say whether a property exists that the caller cannot read.
        return GoogleApiError(403, NO_PERMISSION)
    if error.code == "insufficient_scope":
        return GoogleApiError(403, INSUFFICIENT_SCOPES, details=[scope_info(request)])
    if error.code == "rate_limited":
        return GoogleApiError(429, TOKENS_EXHAUSTED if reporting else ADMIN_QUOTA, headers=headers)
    if error.code == "unavailable":
        return GoogleApiError(503, UNAVAILABLE, headers=headers)
    if error.code == "invalid_request":
        return GoogleApiError(400, error.message)
    return GoogleApiError(500, "Internal error encountered.")


router = APIRouter(route_class=google_route(_refusal))
Caller = Annotated[SandboxUser, Depends(google_caller("accounts", (SCOPE,)))]
Reporter = Annotated[SandboxUser, Depends(google_caller("metrics", (SCOPE,)))]


@router.get("/analyticsadmin/v1beta/accountSummaries")
async def account_summaries(
    request: Request,
    user: Caller,
    page_size: Annotated[int, Query(alias="pageSize")] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str, Query(alias="pageToken")] = "",
) -> dict[str, Any]:
    """The Analytics accounts the user reaches, each with its property."""
    if page_size < 0:
        raise SandboxError("invalid_request", "page_size must be positive.")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    state = sandbox_state(request)
    page, last = state.page_accounts(user.id, size, decode_page_token(page_token))
    body: dict[str, Any] = {"accountSummaries": [_summary(a) for a in page]}
    if last is not None:
        body["nextPageToken"] = encode_page_token(last)
    return body


def _summary(account: SandboxAccount) -> dict[str, Any]:
    company = account.name.split(" — ")[0]
    return {
        "name": f"accountSummaries/{account.id}",
        "account": f"accounts/{account.id}",
        "displayName": company,
        "propertySummaries": [
            {
                "property": f"properties/{account.id}",
                "displayName": account.name,
                "propertyType": "PROPERTY_TYPE_ORDINARY",
                "parent": f"accounts/{account.id}",
            }
        ],
    }


@router.post("/analyticsdata/v1beta/properties/{property_id}:runReport")
async def run_report(
    request: Request,
    user: Reporter,
    property_id: str,
    report: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """One property's figures per day, as GA4's report table."""
    state = sandbox_state(request)
    account = state.account_for(user.id, property_id)
    first, last = _date_range(report.get("dateRanges"))
    _dimensions(report.get("dimensions"))
    metrics = _metrics(report.get("metrics"))
    rows = [_row(account, day, metrics) for day in served(state, first, last)]
    offset, limit = _int(report.get("offset"), 0), _int(report.get("limit"), DEFAULT_LIMIT)
    body: dict[str, Any] = {
        "dimensionHeaders": [{"name": "date"}],
        "metricHeaders": [{"name": m, "type": METRICS[m][0]} for m in metrics],
    }
    if rows:  # proto3 JSON leaves out empty lists and zeros
        body["rows"] = rows[offset : offset + limit]
        body["rowCount"] = len(rows)
    body["metadata"] = {"currencyCode": account.currency, "timeZone": "Etc/UTC"}
    body["kind"] = "analyticsData#runReport"
    return body


def _row(account: SandboxAccount, day: date, metrics: list[str]) -> dict[str, Any]:
    figures = day_metrics(account, day)
    return {
        "dimensionValues": [{"value": day.strftime("%Y%m%d")}],
        "metricValues": [{"value": str(figures[METRICS[m][1]])} for m in metrics],
    }


def _date_range(ranges: Any) -> tuple[date, date]:
    if not isinstance(ranges, list) or len(ranges) != 1 or not isinstance(ranges[0], dict):
        raise SandboxError("invalid_request", "The sandbox's GA4 answers one date range.")
    first = _day(ranges[0].get("startDate"), "startDate")
    last = _day(ranges[0].get("endDate"), "endDate")
    if last < first:
        raise SandboxError(
            "invalid_request", "The dateRange's endDate must be on or after its startDate."
        )
    return first, last


def _day(value: Any, field: str) -> date:
    """A GA4 date: YYYY-MM-DD, "today", "yesterday" or "NdaysAgo"."""
    today = datetime.now(UTC).date()
    text = value if isinstance(value, str) else ""
    if text in ("today", "yesterday"):
        return today - timedelta(days=int(text == "yesterday"))
    if text.endswith("daysAgo") and text[: -len("daysAgo")].isdigit():
        return today - timedelta(days=int(text[: -len("daysAgo")]))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SandboxError(
            "invalid_request",
            f"Invalid {field}: {text!r}. Dates are YYYY-MM-DD, NdaysAgo, yesterday or today.",
        ) from None


def _dimensions(dimensions: Any) -> None:
    names = [d.get("name") for d in dimensions or [] if isinstance(d, dict)]
    for name in names:
        if name != "date":
            raise SandboxError(
                "invalid_request",
                f"Field {name} is not a valid dimension. For a list of valid dimensions and "
                f"metrics, see {SCHEMA_URL}",
            )
    if names != ["date"]:
        raise SandboxError("invalid_request", "The sandbox's GA4 reports by the date dimension.")


def _metrics(metrics: Any) -> list[str]:
    names = [m.get("name") for m in metrics or [] if isinstance(m, dict)]
    for name in names:
        if name not in METRICS:
            raise SandboxError(
                "invalid_request",
                f"Field {name} is not a valid metric. For a list of valid dimensions and "
                f"metrics, see {SCHEMA_URL}",
            )
    if not names:
        raise SandboxError("invalid_request", "At least one metric is required.")
    return [str(n) for n in names]


def _int(value: Any, default: int) -> int:
    """GA4 takes int64 fields as numbers or as strings."""
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SandboxError("invalid_request", f"Invalid integer value: {value!r}.") from None
    if number < 0:
        raise SandboxError("invalid_request", "offset and limit must not be negative.")
    return number or default
