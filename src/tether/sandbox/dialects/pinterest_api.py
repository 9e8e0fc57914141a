"""Pinterest's API v5 in the sandbox: its error body, the sandbox's refusals and switches in
Pinterest's words, and analytics rows from the sandbox's deterministic figures
(`metrics.day_metrics`).

Pinterest's words where the notes have them (see `providers/pinterest_ads.py`); chosen as
plausible where they do not: an unknown path is 404 code 404 "Resource not found.", a bad
`page_size` or `bookmark` is 400 code 1, an analytics request Pinterest cannot read is 400 code
400 "Invalid ad account analytics parameters." (its documented example), and the token
endpoint's refusals of a request (not of a grant) are 400 code 1.
"""

import base64
import binascii
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.responses import JSONResponse

from tether.sandbox.faults import FaultError
from tether.sandbox.metrics import day_metrics, served_days
from tether.sandbox.state import OAuthError, SandboxAccount

AUTHENTICATION_FAILED = "Authentication failed."
GRANT_INVALID = "The authorization grant is invalid"
NOT_PERMITTED = "You are not permitted to access that resource."
MISSING_SCOPES = (
    "Your token does not have sufficient permissions to perform this operation. Please ensure "
    "your token is authorized with the correct set of scopes."
)
RATE_LIMITED = (
    "This request exceeded a rate limit. This can happen if the client exceeds one of the "
    "published rate limits within a short time window."
)
WENT_WRONG = "Something went wrong on our end. Sorry about that."
TOO_FAR_BACK = "You can only get data from the last 90 days."
INVALID_ANALYTICS = "Invalid ad account analytics parameters."
# The analytics endpoint's limits (OpenAPI `ad_account/analytics`).
HISTORY_DAYS = 90
MAX_RANGE_DAYS = 90
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 250
# The columns the sandbox has figures for, of Pinterest's many (OpenAPI `columns`).
COLUMNS = frozenset(
    {
        "AD_ACCOUNT_ID",
        "IMPRESSION_1",
        "IMPRESSION_2",
        "TOTAL_IMPRESSION",
        "PAID_IMPRESSION",
        "CLICKTHROUGH_1",
        "CLICKTHROUGH_2",
        "TOTAL_CLICKTHROUGH",
        "SPEND_IN_MICRO_DOLLAR",
        "SPEND_IN_DOLLAR",
        "TOTAL_CONVERSIONS",
        "CTR",
    }
)
_MICROS = Decimal(1_000_000)


class PinterestError(Exception):
    """A refusal in Pinterest's body: `{"code", "message"}`."""

    def __init__(
        self, status: int, code: int, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        # Pinterest tags every answer with a request id (seen on its errors in the wild).
        headers = {"x-pinterest-rid": str(secrets.randbelow(10**16)), **self.headers}
        body = {"code": self.code, "message": self.message}
        return JSONResponse(body, status_code=self.status, headers=headers)


def authentication_failed() -> PinterestError:
    """Pinterest's one answer for a missing, unknown, expired or revoked token, or for an app
    whose credentials are wrong at the token endpoint."""
    return PinterestError(401, 2, AUTHENTICATION_FAILED)


def missing_scopes() -> PinterestError:
    return PinterestError(401, 3, MISSING_SCOPES)


def not_permitted() -> PinterestError:
    """An ad account the token's user no longer reaches."""
    return PinterestError(403, 29, NOT_PERMITTED)


def not_found(what: str = "AdAccount") -> PinterestError:
    return PinterestError(404, 2, f"{what} not found.")


def invalid(message: str) -> PinterestError:
    return PinterestError(400, 1, message)


def grant_refused(error: OAuthError) -> PinterestError:
    """A code or refresh token the sandbox refuses: Pinterest says no more than that."""
    if error.error == "invalid_grant":
        return PinterestError(401, 283, GRANT_INVALID)
    return invalid(f"Invalid request: {error.description}")


def fault_error(fault: FaultError) -> PinterestError:
    """A sandbox switch as Pinterest answers it: code 12 when down; when throttled, a 429 with
    code 8 and the wait in `X-RateLimit-Reset` (seconds), never Retry-After."""
    if fault.code != "rate_limited":
        return PinterestError(500, 12, WENT_WRONG)
    seconds = fault.headers.get("Retry-After", "0")
    headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0"}
    return PinterestError(429, 8, RATE_LIMITED, headers | {"X-RateLimit-Reset": seconds})


# -- paging -----------------------------------------------------------------------------------


def page_size(params: Mapping[str, str]) -> int:
    raw = params.get("page_size", str(DEFAULT_PAGE_SIZE))
    if not raw.isdigit():
        raise invalid(f"Parameter 'page_size' was not numeric (was {raw})")
    size = int(raw)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise invalid(f"Invalid request: page_size must be from 1 to {MAX_PAGE_SIZE}.")
    return size


def bookmark_of(last_id: str) -> str:
    """An opaque bookmark for the page after this account."""
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def after_of(bookmark: str | None) -> str | None:
    """The account a bookmark continues after; a bookmark Pinterest never gave is refused."""
    if not bookmark:
        return None
    try:
        text = base64.urlsafe_b64decode(bookmark + "=" * (-len(bookmark) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    if not text.startswith("after:"):
        raise invalid("Invalid request: the bookmark is not valid.")
    return text.removeprefix("after:")


# -- analytics --------------------------------------------------------------------------------


def report_days(params: Mapping[str, str], history_days: int) -> list[date]:
    """The days of the range the sandbox has figures for, after Pinterest's own checks."""
    try:
        start = date.fromisoformat(params["start_date"])
        end = date.fromisoformat(params["end_date"])
    except (KeyError, ValueError):
        raise PinterestError(400, 400, INVALID_ANALYTICS) from None
    if end < start or (end - start).days > MAX_RANGE_DAYS:
        raise PinterestError(400, 400, INVALID_ANALYTICS)
    if start < datetime.now(UTC).date() - timedelta(days=HISTORY_DAYS):
        raise invalid(TOO_FAR_BACK)
    return served_days(start, end, history_days)


def columns_of(params: Mapping[str, str]) -> list[str]:
    """The columns asked for, every one of them known; a granularity other than DAY is refused
    (the sandbox keeps daily figures only)."""
    asked = [c.strip() for c in params.get("columns", "").split(",") if c.strip()]
    if not asked or any(c not in COLUMNS for c in asked) or params.get("granularity") != "DAY":
        raise PinterestError(400, 400, INVALID_ANALYTICS)
    return asked


def analytics_rows(
    account: SandboxAccount, days: Sequence[date], columns: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per day with the asked columns; a column without a value is left out, as
    Pinterest leaves it out."""
    return [_row(account, day, columns) for day in days]


def _row(account: SandboxAccount, day: date, columns: Sequence[str]) -> dict[str, Any]:
    figures = day_metrics(account, day)
    spend = Decimal(figures["spend"])
    impressions, clicks = figures["impressions"], figures["clicks"]
    values: dict[str, Any] = {
        "AD_ACCOUNT_ID": account.id,
        "IMPRESSION_1": impressions,
        "PAID_IMPRESSION": impressions,
        "TOTAL_IMPRESSION": impressions,
        "CLICKTHROUGH_1": clicks,
        "TOTAL_CLICKTHROUGH": clicks,
        "SPEND_IN_MICRO_DOLLAR": int(spend * _MICROS),
        "SPEND_IN_DOLLAR": float(spend),
        "TOTAL_CONVERSIONS": figures["conversions"],
        "CTR": clicks / impressions if impressions else 0,
    }
    row = {"DATE": day.isoformat(), "AD_ACCOUNT_ID": account.id}
    return row | {c: values[c] for c in columns if values.get(c)}
