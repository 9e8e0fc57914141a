"""An ad account's stats in the sandbox's Snapchat dialect (`/v1/adaccounts/{id}/stats`), from
the sandbox's deterministic figures (`metrics.day_metrics`) per day of the account's own time
zone: spend in micro-currency, conversions as purchases and sign-ups, and Snap's refusals of a
DAY query that does not start at the account's midnight or spans too long (E1008)."""

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

from tether.sandbox.dialects.snapchat_api import (
    SnapError,
    account_timezone,
    api,
    caller,
    reachable,
    request_id,
    snap_id,
)
from tether.sandbox.faults import sandbox_state
from tether.sandbox.metrics import day_metrics, served_days
from tether.sandbox.state import SandboxAccount, SandboxUser

FIELDS = ("impressions", "swipes", "spend", "conversion_purchases", "conversion_sign_ups")
DEFAULT_FIELDS = "impressions,swipes,spend"
MAX_DAYS = 31
SWIPE_WINDOWS = ("1_DAY", "7_DAY", "28_DAY")
VIEW_WINDOWS = ("none", "1_HOUR", "3_HOUR", "6_HOUR", "1_DAY", "7_DAY", "28_DAY")
DEFAULT_WINDOWS = {"swipe_up_attribution_window": "28_DAY", "view_attribution_window": "1_DAY"}


def unsupported(words: str) -> SnapError:
    """Snap's refusal of a stats query it cannot answer."""
    return SnapError(
        400,
        f"Unsupported Stats Query: {words}",
        display="We're sorry, but the stats you requested are not available.",
        code="E1008",
    )


def _moment(raw: str | None, name: str) -> datetime:
    if not raw:
        raise unsupported(f"{name} is required.")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise unsupported(f"{name} must be an ISO 8601 time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _local_days(params: Mapping[str, str], zone: ZoneInfo, daily: bool) -> tuple[date, date]:
    """The account's first day and the day after the last; a DAY query must start and end at
    the account's midnight."""
    start = _moment(params.get("start_time"), "start_time").astimezone(zone)
    end = _moment(params.get("end_time"), "end_time").astimezone(zone)
    if end <= start:
        raise unsupported("End time should be after start time.")
    for which, moment in (("a start", start), ("an end", end)):
        if daily and moment.time() != time(0):
            raise unsupported(
                f"Timeseries queries with DAY granularity must have {which} time that is the "
                f"start of day (00:00:00) for the account's timezone. This account's timezone "
                f"is: {zone.key}"
            )
    if daily and (end.date() - start.date()).days > MAX_DAYS:
        raise unsupported(
            f"Timeseries queries with DAY granularity must span at most {MAX_DAYS} days."
        )
    return start.date(), end.date()


def _fields(raw: str | None) -> list[str]:
    wanted = [f.strip() for f in (raw or DEFAULT_FIELDS).split(",") if f.strip()]
    for field in wanted:
        if field not in FIELDS:
            raise unsupported(f"The field {field} is not supported here.")
    return wanted


def _windows(params: Mapping[str, str]) -> dict[str, str]:
    chosen = {name: params.get(name, default) for name, default in DEFAULT_WINDOWS.items()}
    if chosen["swipe_up_attribution_window"] not in SWIPE_WINDOWS:
        raise unsupported("swipe_up_attribution_window must be 1_DAY, 7_DAY or 28_DAY.")
    if chosen["view_attribution_window"] not in VIEW_WINDOWS:
        raise unsupported("view_attribution_window is not a window Snap knows.")
    return chosen


def stats_of(
    account: SandboxAccount, days: Sequence[date], fields: Sequence[str]
) -> dict[str, int]:
    """The figures of some days, added up, as Snap writes them (spend in micros)."""
    figures = [day_metrics(account, day) for day in days]
    conversions = sum(f["conversions"] for f in figures)
    spend = sum((Decimal(f["spend"]) for f in figures), Decimal(0))
    every = {
        "impressions": sum(f["impressions"] for f in figures),
        "swipes": sum(f["clicks"] for f in figures),
        "spend": int(spend * 1_000_000),
        "conversion_purchases": conversions - conversions // 3,
        "conversion_sign_ups": conversions // 3,
    }
    return {f: every[f] for f in fields}


def _written(day: date, zone: ZoneInfo) -> str:
    return datetime.combine(day, time(0), tzinfo=zone).isoformat(timespec="milliseconds")


@api.get("/v1/adaccounts/{account_id}/stats")
async def ad_account_stats(
    request: Request, account_id: str, user: Annotated[SandboxUser, Depends(caller("metrics"))]
) -> Any:
    """An ad account's stats per day of its time zone (DAY), or over the whole range (TOTAL)."""
    state = sandbox_state(request)
    account = reachable(state, user, account_id)
    params = request.query_params
    granularity = params.get("granularity", "TOTAL")
    if granularity not in ("DAY", "TOTAL"):
        raise unsupported("The sandbox answers DAY and TOTAL granularity only.")
    zone = ZoneInfo(account_timezone(account.id))
    first, after = _local_days(params, zone, granularity == "DAY")
    fields, windows = _fields(params.get("fields")), _windows(params)
    days = served_days(first, after - timedelta(days=1), state.settings.history_days)
    stat: dict[str, Any] = {
        "id": snap_id("adaccount", account.id),
        "type": "AD_ACCOUNT",
        "granularity": granularity,
        "start_time": _written(first, zone),
        "end_time": _written(after, zone),
        **windows,
    }
    if granularity == "TOTAL":
        return _answer("total", stat | {"stats": stats_of(account, days, fields)})
    series = _series(account, days, fields, zone, params.get("omit_empty") == "true")
    final = _written(datetime.now(zone).date(), zone)
    return _answer("timeseries", stat | {"finalized_data_end_time": final, "timeseries": series})


def _answer(kind: str, stat: dict[str, Any]) -> dict[str, Any]:
    """Snap's stats answer: the one entity's stat, wrapped with its status."""
    wrapped = [{"sub_request_status": "SUCCESS", f"{kind}_stat": stat}]
    return {"request_status": "SUCCESS", "request_id": request_id(), f"{kind}_stats": wrapped}


def _series(
    account: SandboxAccount,
    days: Sequence[date],
    fields: Sequence[str],
    zone: ZoneInfo,
    omit_empty: bool,
) -> list[dict[str, Any]]:
    """One point per day, from the account's midnight to the next; `omit_empty` leaves out
    days without a figure."""
    points = []
    for day in days:
        stats = stats_of(account, [day], fields)
        if omit_empty and not any(stats.values()):
            continue
        points.append(
            {
                "start_time": _written(day, zone),
                "end_time": _written(day + timedelta(days=1), zone),
                "stats": stats,
            }
        )
    return points
