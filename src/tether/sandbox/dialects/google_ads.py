"""The sandbox as the Google Ads API (REST): listAccessibleCustomers, and GAQL over
googleAds:search and :searchStream, under `/ads/<version>` (googleads.googleapis.com).

Each sandbox account is a customer (its id the customer id). A user reaches the accounts the
sandbox gives them directly; a manager account (see `managers.py`) also reaches its clients,
but only for a call that names the manager in `login-customer-id`, as on Google. Every call
needs a `developer-token` header. Refusals carry a `GoogleAdsFailure` in `error.details`.
"""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request

from tether.sandbox.dialects import gaql
from tether.sandbox.dialects.google_api import (
    AUTH_CODES,
    INSUFFICIENT_SCOPES,
    INVALID_ARGUMENT,
    INVALID_CREDENTIALS,
    QUOTA_EXHAUSTED,
    UNAVAILABLE,
    GoogleApiError,
    authenticate,
    google_route,
    retry_seconds,
    scope_info,
)
from tether.sandbox.faults import sandbox_state
from tether.sandbox.metrics import day_metrics, served_days
from tether.sandbox.state import SandboxAccount, SandboxError, SandboxState, SandboxUser

SCOPE = "https://www.googleapis.com/auth/adwords"
VERSIONS = frozenset({"v20", "v21", "v22"})
DEFAULT_VERSION = "v21"
NO_PERMISSION = (
    "User doesn't have permission to access customer. Note: If you're accessing a client "
    "customer, the manager's customer id must be set in the 'login-customer-id' header. See "
    "https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid"
)
NOT_PERMITTED = "The caller does not have permission"
# Sandbox refusals of a token, as Google Ads' AuthenticationError words them.
AUTHENTICATION = {
    "token_expired": ("OAUTH_TOKEN_EXPIRED", "OAuth token in the header has expired."),
    "token_revoked": ("OAUTH_TOKEN_REVOKED", "OAuth token in the header has been revoked."),
    # Google does not say that a password change killed the grant.
    "password_changed": ("OAUTH_TOKEN_REVOKED", "OAuth token in the header has been revoked."),
    "invalid_token": ("OAUTH_TOKEN_INVALID", "OAuth token in the header is not valid."),
}
RATE_NAME = "Requests per developer token per customer"
FOR_MANAGER = (
    "Metrics cannot be requested for a manager account. To retrieve metrics, issue separate "
    "requests against each client account under the manager account."
)
NOT_SERVED_THROUGH = (
    "The login customer specified does not have access to the account specified, so the "
    "request is invalid."
)


# The rpc status message Google Ads gives each HTTP status of a refusal.
TOP_MESSAGES = {
    400: INVALID_ARGUMENT,
    401: INVALID_CREDENTIALS,
    403: NOT_PERMITTED,
    429: QUOTA_EXHAUSTED,
}


def failure(
    request: Request,
    code: int,
    error_code: tuple[str, str],
    words: str,
    details: dict[str, Any] | None = None,
) -> GoogleApiError:
    """A refusal with its GoogleAdsFailure, holding one error: `error_code` is the error's
    kind and value, e.g. ("authenticationError", "OAUTH_TOKEN_EXPIRED")."""
    version = request.path_params.get("version", DEFAULT_VERSION)
    kind, value = error_code
    error: dict[str, Any] = {"errorCode": {kind: value}, "message": words}
    if details:
        error["details"] = details
    failed = {
        "@type": f"type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure",
        "errors": [error],
        "requestId": _request_id(),
    }
    return GoogleApiError(code, TOP_MESSAGES.get(code, "Internal error."), details=[failed])


def refusal(request: Request, error: SandboxError) -> GoogleApiError:
    """A sandbox refusal (a lapse, a fault, a bad parameter) as Google Ads words it."""
    if error.code in AUTH_CODES:
        enum, words = AUTHENTICATION[error.code]
        return failure(request, 401, ("authenticationError", enum), words)
    if error.code == "insufficient_scope":
        return GoogleApiError(403, INSUFFICIENT_SCOPES, details=[scope_info(request)])
    if error.code in ("access_removed", "not_found"):
        return failure(
            request, 403, ("authorizationError", "USER_PERMISSION_DENIED"), NO_PERMISSION
        )
    if error.code == "rate_limited":
        return _throttled(request, retry_seconds(error))
    if error.code == "unavailable":
        return GoogleApiError(503, UNAVAILABLE)
    if error.code == "invalid_request":
        return failure(request, 400, ("requestError", "UNKNOWN"), error.message)
    return GoogleApiError(500, "Internal error encountered.")


def _throttled(request: Request, seconds: int) -> GoogleApiError:
    details = {
        "quotaErrorDetails": {
            "rateScope": "ACCOUNT",
            "rateName": RATE_NAME,
            "retryDelay": f"{seconds}s",
        }
    }
    words = f"Too many requests. Retry in {seconds} seconds."
    return failure(request, 429, ("quotaError", "RESOURCE_TEMPORARILY_EXHAUSTED"), words, details)


router = APIRouter(route_class=google_route(refusal))


def _check_call(request: Request, version: str) -> None:
    """What Google checks of every call once the caller is known: version, developer token."""
    if version not in VERSIONS:
        raise GoogleApiError(404, f"Version {version} of the Google Ads API is not served here.")
    if not request.headers.get("developer-token", "").strip():
        missing = ("requestError", "DEVELOPER_TOKEN_PARAMETER_MISSING")
        raise failure(request, 400, missing, "developer-token parameter is missing.")


@router.get("/ads/{version}/customers:listAccessibleCustomers")
async def list_accessible_customers(request: Request, version: str) -> dict[str, Any]:
    """The customers the user reaches directly: managers, not their clients."""
    user = await authenticate(request, "accounts", (SCOPE,))
    _check_call(request, version)
    ids = sandbox_state(request).reachable_account_ids(user.id)
    return {"resourceNames": [f"customers/{i}" for i in ids]}


@router.post("/ads/{version}/customers/{customer_id}/googleAds:searchStream")
async def search_stream(request: Request, version: str, customer_id: str) -> list[dict[str, Any]]:
    """Every row of a GAQL query, in batches (one here, however many rows)."""
    query, rows = await _search(request, version, customer_id)
    batch: dict[str, Any] = {"fieldMask": gaql.field_mask(query), "requestId": _request_id()}
    if rows:
        batch = {"results": rows, **batch}
    return [batch]


@router.post("/ads/{version}/customers/{customer_id}/googleAds:search")
async def search(request: Request, version: str, customer_id: str) -> dict[str, Any]:
    """The rows of a GAQL query, on one page (Google's pages hold 10,000 rows)."""
    query, rows = await _search(request, version, customer_id)
    page: dict[str, Any] = {"fieldMask": gaql.field_mask(query), "requestId": _request_id()}
    return {"results": rows, **page} if rows else page


async def _search(
    request: Request, version: str, customer_id: str
) -> tuple[gaql.Query, list[dict[str, Any]]]:
    text = await _query_text(request)
    user = await authenticate(request, "metrics" if "metrics." in text else "accounts", (SCOPE,))
    _check_call(request, version)
    try:
        query = gaql.parse(text)
    except gaql.QueryError as error:
        raise failure(request, 400, ("queryError", error.code), error.message) from None
    state = sandbox_state(request)
    login = request.headers.get("login-customer-id", "").strip() or None
    customer = _served_customer(request, state, user, customer_id, login)
    if query.resource == "customer_client":
        return query, _hierarchy_rows(state, customer, query)
    if query.selects("metrics.") and state.is_manager(customer.id):
        raise failure(request, 400, ("queryError", "REQUESTED_METRICS_FOR_MANAGER"), FOR_MANAGER)
    return query, _customer_rows(state, customer, query)


async def _query_text(request: Request) -> str:
    try:
        body = await request.json()
    except ValueError:
        body = None
    query = body.get("query") if isinstance(body, dict) else None
    if not isinstance(query, str) or not query.strip():
        raise failure(
            request, 400, ("fieldError", "REQUIRED"), "The required field was not present."
        )
    return query


def _served_customer(
    request: Request, state: SandboxState, user: SandboxUser, customer_id: str, login: str | None
) -> SandboxAccount:
    """The customer a call is about, reached directly or through the login customer."""
    for value in (customer_id, login or customer_id):
        if not value.isdigit():
            invalid = ("requestError", "INVALID_CUSTOMER_ID")
            raise failure(request, 400, invalid, f"Invalid customer ID '{value}'.")
    login = login or customer_id
    for value in (customer_id, login):
        if value not in state.accounts:
            unknown = ("authenticationError", "CUSTOMER_NOT_FOUND")
            raise failure(request, 401, unknown, "No customer found for the provided customer ID.")
    state.account_for(user.id, login)  # access_removed / not_found: no permission
    if customer_id != login and not state.manages(login, customer_id):
        mismatch = (
            "authorizationError",
            "INVALID_LOGIN_CUSTOMER_ID_SERVING_CUSTOMER_ID_COMBINATION",
        )
        raise failure(request, 403, mismatch, NOT_SERVED_THROUGH)
    return state.accounts[customer_id]


def _hierarchy_rows(
    state: SandboxState, customer: SandboxAccount, query: gaql.Query
) -> list[dict[str, Any]]:
    """The customer itself (level 0) and, for a manager, each client under it (level 1)."""
    levels = [(customer, 0)] + [(client, 1) for client in state.clients_of(customer.id)]
    rows = []
    for account, level in levels:
        values = {
            "customer_client.resource_name": (
                f"customers/{customer.id}/customerClients/{account.id}"
            ),
            "customer_client.client_customer": f"customers/{account.id}",
            "customer_client.id": int(account.id),
            "customer_client.descriptive_name": account.name,
            "customer_client.currency_code": account.currency,
            "customer_client.time_zone": "Etc/UTC",
            "customer_client.manager": state.is_manager(account.id),
            "customer_client.level": level,
            "customer_client.status": "ENABLED",
            "customer_client.hidden": False,
            "customer_client.test_account": False,
        }
        if gaql.matches(query, values):
            rows.append(gaql.row(query, values))
    return rows


def _customer_rows(
    state: SandboxState, customer: SandboxAccount, query: gaql.Query
) -> list[dict[str, Any]]:
    """One row, or with segments.date one row per day that had impressions."""
    values = {
        "customer.resource_name": f"customers/{customer.id}",
        "customer.id": int(customer.id),
        "customer.descriptive_name": customer.name,
        "customer.currency_code": customer.currency,
        "customer.time_zone": "Etc/UTC",
    }
    span = query.date_range()
    if span is None:
        return [gaql.row(query, values)]
    rows = []
    for day in served_days(span[0], span[1], state.settings.history_days):
        figures = _figures(customer, day)
        if figures["metrics.impressions"]:  # Google leaves out the days without impressions
            rows.append(gaql.row(query, {**values, **figures}))
    return rows


def _figures(customer: SandboxAccount, day: date) -> dict[str, Any]:
    """The sandbox's deterministic figures of a day, as Google Ads' metrics."""
    figures = day_metrics(customer, day)
    return {
        "segments.date": day.isoformat(),
        "metrics.impressions": figures["impressions"],
        "metrics.clicks": figures["clicks"],
        "metrics.cost_micros": int(Decimal(figures["spend"]) * 1_000_000),
        # A double on Google (fractional with data-driven attribution).
        "metrics.conversions": float(figures["conversions"]),
    }


def _request_id() -> str:
    return secrets.token_urlsafe(16)
