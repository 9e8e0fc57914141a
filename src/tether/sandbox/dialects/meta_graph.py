"""Meta's Graph API in the sandbox: its error envelope, and Insights rows from the sandbox's
deterministic figures (`metrics.day_metrics`)."""

import calendar
import json
import math
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.responses import JSONResponse

from tether.sandbox.faults import FaultError
from tether.sandbox.metrics import day_metrics, served_days
from tether.sandbox.state import OAuthError, SandboxAccount, SandboxError

INSIGHTS_FIELDS = (
    "impressions",
    "clicks",
    "spend",
    "actions",
    "account_currency",
    "account_id",
    "account_name",
    "date_start",
    "date_stop",
)
# Insights refuse a range starting further back than this (code 3018).
HISTORY_MONTHS = 37
MAX_INCREMENT_DAYS = 90
# Business Use Case rate limiting marks its throttles with this subcode (M5).
BUC_SUBCODE = 2446079

_LAPSES: dict[str, tuple[int, str, tuple[str, str] | None]] = {
    "token_expired": (463, "Error validating access token: Session has expired.", None),
    "token_revoked": (
        458,
        "Error validating access token: The user has not authorized application.",
        None,
    ),
    "password_changed": (
        460,
        "Error validating access token: The session has been invalidated because the user "
        "changed their password or Facebook has changed the session for security reasons.",
        (
            "Session invalidated",
            "Your session has ended because your password was changed. Log in again.",
        ),
    ),
}
_THROTTLES = {
    "me": (17, "(#17) User request limit reached", "ads_management"),
    "accounts": (
        80004,
        "(#80004) There have been too many calls to this ad-account. Wait a bit and try again.",
        "ads_management",
    ),
    "metrics": (
        80000,
        "(#80000) There have been too many calls from this ad-account. Wait a bit and try again.",
        "ads_insights",
    ),
}


class GraphError(Exception):
    """An error in Graph's envelope: `{"error": {"message", "type", "code", ...}}`."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        status: int = 400,
        kind: str = "OAuthException",
        transient: bool = False,
        user: tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.subcode = code, message, subcode
        self.status, self.kind, self.transient, self.user = status, kind, transient, user
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.kind, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient:
            error["is_transient"] = True
        if self.user is not None:
            error["error_user_title"], error["error_user_msg"] = self.user
        error["fbtrace_id"] = secrets.token_urlsafe(9)
        return {"error": error}

    def response(self) -> JSONResponse:
        headers = dict(self.headers)
        if self.code in (190, 102):
            headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{self}"'
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def token_error(error: SandboxError) -> GraphError:
    """A token the sandbox refuses, as Meta's code 190 with the subcode of its death."""
    lapse = _LAPSES.get(error.code)
    if lapse is None:
        return GraphError(190, "Invalid OAuth access token - Cannot parse access token")
    subcode, message, user = lapse
    return GraphError(190, message, subcode=subcode, user=user)


def code_refused(error: OAuthError) -> GraphError:
    """A refused authorization code, in the token endpoint's words."""
    text = error.description.lower()
    if "already used" in text:
        return GraphError(100, "This authorization code has been used.", subcode=36009)
    if "expired" in text:
        return GraphError(100, "This authorization code has expired.", subcode=36007)
    if "redirect_uri" in text:
        return GraphError(
            100,
            "Error validating verification code. Please make sure your redirect_uri is "
            "identical to the one you used in the OAuth dialog request",
            subcode=36008,
        )
    return GraphError(100, f"Invalid verification code. {error.description}")


def fault_error(fault: FaultError, kind: str, object_id: str | None) -> GraphError:
    """A sandbox switch as Meta answers it: code 2 when down; when throttled, the code of the
    call's kind with the wait in `X-Business-Use-Case-Usage` (minutes, no Retry-After)."""
    if fault.code != "rate_limited":
        message = "An unexpected error has occurred. Please retry your request later."
        return GraphError(2, message, status=500, transient=True)
    if kind == "token":
        usage = {"call_count": 100, "total_cputime": 100, "total_time": 100}
        headers = {"X-App-Usage": json.dumps(usage)}
        return GraphError(4, "(#4) Application request limit reached", headers=headers)
    code, message, use_case = _THROTTLES.get(kind, _THROTTLES["me"])
    seconds = int(fault.headers.get("Retry-After", "0"))
    usage_of_case = {
        "type": use_case,
        "call_count": 100,
        "total_cputime": 100,
        "total_time": 100,
        "estimated_time_to_regain_access": math.ceil(seconds / 60),
        "ads_api_access_tier": "standard_access",
    }
    key = (object_id or "0").removeprefix("act_")
    headers = {"X-Business-Use-Case-Usage": json.dumps({key: [usage_of_case]})}
    return GraphError(code, message, subcode=BUC_SUBCODE, transient=True, headers=headers)


def no_object(object_id: str) -> GraphError:
    """What Graph answers for an object that is gone or out of the token's reach."""
    return GraphError(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read "
        "the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
        kind="GraphMethodException",
    )


def months_back(day: date, months: int) -> date:
    """The same day `months` months earlier (the month's last day when it has fewer)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def report_days(params: Mapping[str, str], history_days: int) -> list[date]:
    """The days of `time_range` the sandbox has figures for (Meta's default: the last 30)."""
    today = datetime.now(UTC).date()
    raw = params.get("time_range")
    since, until = (
        (today - timedelta(days=30), today - timedelta(days=1)) if raw is None else _time_range(raw)
    )
    if until < since:
        raise GraphError(100, "(#100) The time_range's until is before its since")
    if since < months_back(today, HISTORY_MONTHS):
        raise GraphError(
            3018,
            "(#3018) The start date of the time range cannot be beyond 37 months from the "
            "current date",
        )
    return served_days(since, until, history_days)


def _time_range(raw: str) -> tuple[date, date]:
    try:
        value = json.loads(raw)
        return date.fromisoformat(value["since"]), date.fromisoformat(value["until"])
    except (ValueError, TypeError, KeyError):
        raise GraphError(
            100, "(#100) Param time_range must be a JSON object with since and until dates"
        ) from None


def insights_rows(
    account: SandboxAccount, days: Sequence[date], increment: str | None, fields: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per `increment` days (all of them by default), with the asked fields."""
    size = _increment(increment, len(days))
    return [_row(account, days[n : n + size], fields) for n in range(0, len(days), size)]


def _increment(increment: str | None, count: int) -> int:
    if increment is None or increment == "all_days":
        return max(1, count)
    if increment.isdigit() and 1 <= int(increment) <= MAX_INCREMENT_DAYS:
        return int(increment)
    raise GraphError(100, "(#100) Param time_increment must be all_days or 1 to 90 days")


def _row(account: SandboxAccount, days: Sequence[date], fields: Sequence[str]) -> dict[str, Any]:
    figures = [day_metrics(account, day) for day in days]
    clicks = sum(f["clicks"] for f in figures)
    node: dict[str, Any] = {
        "impressions": str(sum(f["impressions"] for f in figures)),
        "clicks": str(clicks),
        "spend": str(sum((Decimal(f["spend"]) for f in figures), Decimal(0))),
        "actions": actions(clicks, sum(f["conversions"] for f in figures)),
        "account_currency": account.currency,
        "account_id": account.id,
        "account_name": account.name,
    }
    row = {f: node[f] for f in fields if node.get(f)}
    return row | {"date_start": days[0].isoformat(), "date_stop": days[-1].isoformat()}


def actions(clicks: int, conversions: int) -> list[dict[str, str]]:
    """Meta's `actions`: clicks and engagement, and the conversions counted under several
    overlapping types at once (omni, website, pixel), as Meta reports them."""
    leads = conversions // 3
    purchases = conversions - leads
    counts = (
        ("link_click", clicks),
        ("page_engagement", clicks + clicks // 4),
        ("omni_purchase", purchases),
        ("purchase", purchases),
        ("offsite_conversion.fb_pixel_purchase", purchases),
        ("lead", leads),
        ("offsite_conversion.fb_pixel_lead", leads),
    )
    return [{"action_type": kind, "value": str(n)} for kind, n in counts if n > 0]
