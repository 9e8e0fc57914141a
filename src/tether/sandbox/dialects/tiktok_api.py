"""TikTok's API for Business in the sandbox: its envelope, its error codes, and the report's
parameters and rows, from the sandbox's deterministic figures (`metrics.day_metrics`).

TikTok answers nearly everything with HTTP 200 and says what happened in the body:
`{"code", "message", "request_id", "data"}`, where only code 0 is a success.
"""

import json
import math
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from fastapi.responses import JSONResponse

from tether.sandbox.faults import FaultError
from tether.sandbox.metrics import day_metrics, served_days
from tether.sandbox.state import OAuthError, SandboxAccount, SandboxError

# A report with `stat_time_day` spans at most this many days.
MAX_REPORT_DAYS = 30
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
# advertiser/info takes at most this many ids at once.
MAX_ADVERTISER_IDS = 100
REPORT_METRICS = ("spend", "impressions", "clicks", "conversion", "currency")
DEFAULT_METRICS = ("spend", "impressions")
# The report's dimension groupings the sandbox serves: an advertiser's days.
DIMENSION_SETS = (frozenset({"stat_time_day"}), frozenset({"advertiser_id", "stat_time_day"}))
ID_DIMENSIONS = ("advertiser_id", "campaign_id", "adgroup_id", "ad_id")
ADVERTISER_FIELDS = ("advertiser_id", "name", "currency", "status", "timezone", "role")

NO_TOKEN = "Access token is null, you should set it in http header with key Access-Token."
BAD_TOKEN = "Access token is incorrect or has been revoked."
EXPIRED_TOKEN = "Access token has expired."
APP_MISMATCH = (
    "The app_id is inconsistent with the token's app information. Please retry after correcting it."
)


class TikTokError(Exception):
    """One of TikTok's error codes, answered as TikTok does: HTTP 200 and the envelope."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    def response(self) -> JSONResponse:
        body = {"code": self.code, "message": self.message, "request_id": request_id(), "data": {}}
        return JSONResponse(body)


def request_id() -> str:
    """TikTok's request id: the time of the request, then random hex."""
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(12).upper()


def ok(data: Mapping[str, Any]) -> dict[str, Any]:
    """A successful answer in TikTok's envelope."""
    return {"code": 0, "message": "OK", "request_id": request_id(), "data": dict(data)}


def parameter_error(message: str) -> TikTokError:
    return TikTokError(40002, message)


def missing(name: str) -> TikTokError:
    return parameter_error(f"{name}: Missing data for required field.")


def token_error(error: SandboxError) -> TikTokError:
    """A token the sandbox refuses. TikTok has one code for an expired token and one for any
    other dead token, so a password change reads as revoked, as TikTok would answer it."""
    if error.code == "token_expired":
        return TikTokError(40102, EXPIRED_TOKEN)
    return TikTokError(40105, BAD_TOKEN)


def code_refused(error: OAuthError) -> TikTokError:
    """A refused auth_code, in the token endpoint's words (40110)."""
    if "expired" in error.description.lower():
        return TikTokError(
            40110, "The auth_code has expired. Please re-authorize and try again with a new one."
        )
    return TikTokError(
        40110, "The auth_code is canceled. Please re-authorize and try again with a new auth_code."
    )


def fault_error(fault: FaultError, advertiser_id: str | None) -> TikTokError:
    """A sandbox switch as TikTok answers it: 50000 when down; when throttled, 40133 for a call
    about one advertiser and 40100 for the app's others. TikTok names no wait anywhere."""
    if fault.code != "rate_limited":
        return TikTokError(50000, "System error.")
    if advertiser_id is None:
        return TikTokError(40100, "Requests made too frequently.")
    return TikTokError(
        40133,
        f"Advertiser ({advertiser_id})'s QPS (11) reaches QPS limit 10 for current path, "
        "request is temporarily restricted.",
    )


def no_permission(advertiser_id: str) -> TikTokError:
    """What TikTok answers for an advertiser the token does not reach (any more)."""
    return TikTokError(40001, f"No permission to operate advertiser {advertiser_id}.")


def json_list(params: Mapping[str, str], name: str, default: Sequence[str] = ()) -> list[str]:
    """A parameter TikTok takes as a JSON-encoded list of strings."""
    raw = params.get(name)
    if raw is None:
        return list(default)
    try:
        value = json.loads(raw)
    except ValueError:
        raise parameter_error(f"{name}: Not a valid list.") from None
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise parameter_error(f"{name}: Not a valid list.")
    return [str(v) for v in value]


def whole(params: Mapping[str, str], name: str, default: int, most: int) -> int:
    """A whole-number parameter between 1 and `most`."""
    raw = params.get(name, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise parameter_error(f"{name}: Must be between 1 and {most}.")
    return int(raw)


def advertiser(account: SandboxAccount, fields: Sequence[str]) -> dict[str, Any]:
    """An advertiser as advertiser/info describes it, with the fields asked for."""
    node = {
        "advertiser_id": account.id,
        "name": account.name,
        "currency": account.currency,
        "status": "STATUS_ENABLE",
        "timezone": "Etc/GMT",
        "role": "ROLE_ADVERTISER",
    }
    return {f: node[f] for f in fields or ADVERTISER_FIELDS}


def check_report(params: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """The report's dimensions and metrics, refused where TikTok (or its sandbox) would."""
    for name in ("report_type", "data_level"):
        if not params.get(name):
            raise missing(name)
    if params["report_type"] != "BASIC":
        raise TikTokError(
            40009, f"Unsupported report_type in sandbox environment: {params['report_type']}."
        )
    if params["data_level"] != "AUCTION_ADVERTISER":
        raise TikTokError(
            40009, f"Unsupported data_level in sandbox environment: {params['data_level']}."
        )
    dimensions = json_list(params, "dimensions")
    if not dimensions:
        raise missing("dimensions")
    if frozenset(dimensions) not in DIMENSION_SETS:
        raise TikTokError(40009, f"Unsupported dimensions in sandbox environment: {dimensions}.")
    metrics = json_list(params, "metrics", DEFAULT_METRICS)
    unknown = [m for m in metrics if m not in REPORT_METRICS]
    if unknown:
        raise parameter_error(f"metrics: Invalid metric(s): {', '.join(unknown)}.")
    if "currency" in metrics and not set(dimensions) & set(ID_DIMENSIONS):
        raise parameter_error(
            "The metric currency requires one of the ID dimensions (advertiser_id, "
            "campaign_id, adgroup_id, ad_id)."
        )
    return dimensions, metrics


def report_days(params: Mapping[str, str], history_days: int) -> list[date]:
    """The days of `start_date`..`end_date` the sandbox has figures for (30 at most)."""
    first, last = _date(params, "start_date"), _date(params, "end_date")
    if last < first:
        raise parameter_error("end_date must be later than or equal to start_date.")
    if (last - first).days + 1 > MAX_REPORT_DAYS:
        raise parameter_error(
            f"The time range between start_date and end_date cannot exceed {MAX_REPORT_DAYS} "
            "days when stat_time_day is in dimensions."
        )
    return served_days(first, last, history_days)


def _date(params: Mapping[str, str], name: str) -> date:
    if not params.get(name):
        raise missing(name)
    try:
        return date.fromisoformat(params[name])
    except ValueError:
        raise parameter_error(f"{name}: Not a valid date, use the format YYYY-MM-DD.") from None


def report_rows(
    account: SandboxAccount, days: Sequence[date], dimensions: Sequence[str], metrics: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per day: the dimensions asked, and the metrics asked, written as strings."""
    rows = []
    for day in days:
        figures = day_metrics(account, day)
        known = {
            "advertiser_id": account.id,
            "stat_time_day": f"{day.isoformat()} 00:00:00",
        }
        values = {
            "spend": figures["spend"],
            "impressions": str(figures["impressions"]),
            "clicks": str(figures["clicks"]),
            "conversion": str(figures["conversions"]),
            "currency": account.currency,
        }
        rows.append(
            {
                "dimensions": {d: known[d] for d in dimensions},
                "metrics": {m: values[m] for m in metrics},
            }
        )
    return rows


def page_of(rows: Sequence[Any], page: int, page_size: int) -> dict[str, Any]:
    """One page of a list, with TikTok's `page_info`."""
    return {
        "list": list(rows[(page - 1) * page_size : page * page_size]),
        "page_info": {
            "page": page,
            "page_size": page_size,
            "total_number": len(rows),
            "total_page": math.ceil(len(rows) / page_size),
        },
    }
