"""X's analytics in the sandbox: each account's campaigns, the days a query asks for, active
entities, and a stats file's figures, from the sandbox's deterministic figures (`day_metrics`);
the jobs that hand the files out are in `x_jobs.py`.

Every account runs two campaigns that share its figures exactly: the first takes three fifths
of each (timeline only); the second takes the rest, a quarter of it on X's publisher network,
so the figures of every campaign in every placement add up to the account's own.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

from tether.sandbox.dialects.x_api import (
    Caller,
    account_timezone,
    ads,
    ads_error,
    caller,
    invalid,
    missing,
    reachable,
    x_id,
)
from tether.sandbox.faults import sandbox_state
from tether.sandbox.metrics import day_metrics, served_days
from tether.sandbox.state import SandboxAccount

TIMELINE, NETWORK = "ALL_ON_TWITTER", "PUBLISHER_NETWORK"
MAX_JOB_DAYS = 90

Metrics = Annotated[Caller, Depends(caller("metrics"))]


@dataclass(frozen=True)
class Campaign:
    id: str
    number: int
    placements: tuple[str, ...]


def campaigns(account: SandboxAccount) -> list[Campaign]:
    return [
        Campaign(x_id("campaign", f"{account.id}:1", 5), 1, (TIMELINE,)),
        Campaign(x_id("campaign", f"{account.id}:2", 5), 2, (TIMELINE, NETWORK)),
    ]


def share(account: SandboxAccount, day: date, campaign: int, placement: str) -> tuple[int, ...]:
    """One campaign's impressions, clicks, spend (micros) and conversions on a day, in one
    placement: the account's own figures split so that every share adds up to them."""
    figures = day_metrics(account, day)
    micros = int(Decimal(figures["spend"]) * 1_000_000)
    total = (figures["impressions"], figures["clicks"], micros, figures["conversions"])
    second = tuple(v * 2 // 5 for v in total)
    network = tuple(v // 4 for v in second)
    shares = {
        (1, TIMELINE): tuple(t - s for t, s in zip(total, second, strict=True)),
        (2, TIMELINE): tuple(s - n for s, n in zip(second, network, strict=True)),
        (2, NETWORK): network,
    }
    return shares.get((campaign, placement), (0, 0, 0, 0))


# -- time ------------------------------------------------------------------------------------


def _moment(request: Request, name: str) -> datetime:
    raw = request.query_params.get(name)
    if not raw:
        raise missing(request, name)
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(request, name, f'Expected time, got "{raw}" for {name}') from None
    if moment.tzinfo is None or (moment.minute, moment.second, moment.microsecond) != (0, 0, 0):
        raise invalid(request, name, f"{name} must be expressed in whole hours, with an offset")
    return moment.astimezone(UTC)


def window(request: Request) -> tuple[datetime, datetime]:
    """`start_time` and the exclusive `end_time`, in UTC: at most 90 days apart."""
    start, end = _moment(request, "start_time"), _moment(request, "end_time")
    if not start < end <= start + timedelta(days=MAX_JOB_DAYS):
        message = f"The time window must be positive and at most {MAX_JOB_DAYS} days"
        raise ads_error(400, "INVALID_TIME_WINDOW", message, request)
    return start, end


def days_asked(request: Request, account: SandboxAccount, daily: bool) -> list[date]:
    """The account's days from `start_time` to the exclusive `end_time`. A daily query starts
    and ends at midnight in the account's zone, at the offset that zone has today (as X says,
    not the offset of the day in question)."""
    start, end = window(request)
    zone = account_timezone(account)
    offset = datetime.now(ZoneInfo(zone)).utcoffset() or timedelta(0)
    first, last = (moment.replace(tzinfo=None) + offset for moment in (start, end))
    if daily and (first.hour or last.hour):
        raise invalid(
            request,
            "start_time",
            f"start_time and end_time must be midnight in the account's timezone ({zone}, "
            f"{_written(offset)} today) for DAY granularity",
        )
    count = max(1, -(-(last - first) // timedelta(days=1)))
    return [first.date() + timedelta(days=n) for n in range(count)]


def _written(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _utc(moment: datetime | float) -> str:
    if isinstance(moment, float):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- active entities -------------------------------------------------------------------------


@ads.get("/{version}/stats/accounts/{account_id}/active_entities")
async def active_entities(request: Request, account_id: str, who: Metrics) -> dict[str, Any]:
    """The account's campaigns with figures in the window, each with the placements it served
    in (the sandbox's campaigns serve every day there are figures)."""
    account = reachable(request, who, account_id)
    entity = request.query_params.get("entity")
    if not entity:
        raise missing(request, "entity")
    start, end = window(request)
    history = sandbox_state(request).settings.history_days
    served = served_days(start.date(), (end - timedelta(seconds=1)).date(), history)
    found = campaigns(account) if entity == "CAMPAIGN" and served else []
    activity = {
        "activity_start_time": _utc(start),
        "activity_end_time": _utc(min(end, datetime.now(UTC))),
    }
    params = {"account_id": account_id, **dict(request.query_params)}
    return {
        "request": {"params": params},
        "data_type": "active_entities",
        "data": [{"entity_id": c.id, **activity, "placements": list(c.placements)} for c in found],
    }


# -- a stats file's figures ------------------------------------------------------------------

Day = tuple[int, ...] | None


def figures(
    account: SandboxAccount, entity_id: str, days: Sequence[date], served: set[date], placement: str
) -> list[Day]:
    """An entity's figures per day in one placement (None on a day without figures)."""
    numbers = {c.id: c.number for c in campaigns(account)}
    wanted = [numbers[entity_id]] if entity_id in numbers else list(numbers.values())
    return [
        tuple(map(sum, zip(*(share(account, day, n, placement) for n in wanted), strict=True)))
        if day in served
        else None
        for day in days
    ]


def metrics(days: list[Day], groups: Sequence[str], account_level: bool) -> dict[str, Any]:
    """X's metrics of the groups asked for, one value a day, `null` for a metric without any
    (the account level has only some of ENGAGEMENT: no clicks)."""
    impressions, clicks, micros, conversions = (_series(days, n) for n in range(4))
    out: dict[str, Any] = {}
    if "ENGAGEMENT" in groups:
        out |= {"impressions": impressions, "engagements": _derived(clicks, lambda v: v * 3 // 2)}
        out |= dict.fromkeys(("retweets", "replies", "likes", "follows"))
        if not account_level:
            out |= {"clicks": clicks, "url_clicks": _derived(clicks, lambda v: v * 4 // 5)}
            out |= dict.fromkeys(("card_engagements", "app_clicks", "qualified_impressions"))
    if "BILLING" in groups:
        out |= {"billed_charge_local_micro": micros, "billed_engagements": clicks}
    if "WEB_CONVERSION" in groups:
        out |= {
            "conversion_purchases": _conversions(_derived(conversions, lambda v: v - v // 3)),
            "conversion_sign_ups": _conversions(_derived(conversions, lambda v: v // 3)),
        }
        out |= dict.fromkeys(
            ("conversion_site_visits", "conversion_downloads", "conversion_custom")
        )
    if "VIDEO" in groups:
        out |= dict.fromkeys(("video_total_views", "video_views_25", "video_views_100"))
    return out


def _series(days: list[Day], n: int) -> list[int | None] | None:
    values = [None if day is None else day[n] for day in days]
    return values if any(values) else None


def _derived(values: list[int | None] | None, how: Any) -> list[int | None] | None:
    if values is None:
        return None
    found = [None if v is None else how(v) for v in values]
    return found if any(found) else None


def _conversions(counted: list[int | None] | None) -> dict[str, Any] | None:
    """A web conversion metric: `metric` counts them, with their post-view and post-engagement
    parts, order quantities and sale amounts (in micros)."""
    if counted is None:
        return None
    return {
        "metric": counted,
        "post_view": _derived(counted, lambda v: v // 4),
        "post_engagement": _derived(counted, lambda v: v - v // 4),
        "assisted": None,
        "order_quantity": counted,
        "sale_amount": _derived(counted, lambda v: v * 25_000_000),
    }
