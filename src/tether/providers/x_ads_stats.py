"""X Ads' figures per day: the window of one account's days in its own time zone, the stats jobs
that cover its campaigns, and their result files as Tether's days (see `x_ads.py` for the facts
and decisions)."""

import gzip
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tether.providers import answers
from tether.providers.base import DailyMetrics, ProviderCallError, Reason
from tether.providers.daily import unreadable, zero_filled

NAME = "X Ads"
# Days one job covers: X allows 90 a job, and asks for 30-day windows when backfilling.
MAX_DAYS_PER_JOB = 30
# Campaigns one job names at most, and jobs one status look names at most.
MAX_ENTITIES_PER_JOB = 20
MAX_JOBS_PER_LOOK = 200
METRIC_GROUPS = "ENGAGEMENT,BILLING,WEB_CONVERSION"
# Where X shows an ad when active entities do not say.
DEFAULT_PLACEMENT = "ALL_ON_TWITTER"
# X's "Total Conversions" of a website campaign: each one's `metric`, added up.
CONVERSIONS = (
    "conversion_custom",
    "conversion_site_visits",
    "conversion_sign_ups",
    "conversion_downloads",
    "conversion_purchases",
)
MICROS = Decimal(1_000_000)
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Window:
    """The days asked for, as X wants them written: from the first day's midnight to the one
    after the last, in the account's zone at today's UTC offset."""

    first: date
    days: int
    start_time: str
    end_time: str

    @property
    def last(self) -> date:
        return self.first + timedelta(days=self.days - 1)


def account_zone(account: Any) -> ZoneInfo:
    """The time zone an ad account's days start in (`America/Los_Angeles`)."""
    name = answers.first(account, "data.timezone")
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ProviderCallError(
            Reason.UNKNOWN,
            f"{NAME} named an ad account time zone Tether does not know: {str(name)[:40]!r}.",
        ) from None


def window(first: date, last: date, zone: ZoneInfo, now: datetime) -> Window:
    """X takes "the offset of the current day, not the offset of the day in question": every
    midnight of the window is written with the offset the zone has now."""
    offset = now.astimezone(zone).utcoffset() or timedelta(0)
    fixed = timezone(offset)
    start = datetime.combine(first, time(0), tzinfo=fixed)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=fixed)
    days = (last - first).days + 1
    return Window(first, days, start.isoformat(), end.isoformat())


def job_specs(active: Any) -> list[tuple[str, list[str]]]:
    """The jobs that cover every campaign active entities name: one per placement it served in
    and per 20 campaigns, in a stable order."""
    by_placement: dict[str, list[str]] = {}
    for entity in answers.found(active, "data.*"):
        entity_id = answers.first(entity, "entity_id")
        if entity_id is None:
            continue
        placements = answers.first(entity, "placements") or [DEFAULT_PLACEMENT]
        for placement in placements:
            ids = by_placement.setdefault(str(placement), [])
            if str(entity_id) not in ids:
                ids.append(str(entity_id))
    return [
        (placement, ids[n : n + MAX_ENTITIES_PER_JOB])
        for placement, ids in sorted(by_placement.items())
        for n in range(0, len(ids), MAX_ENTITIES_PER_JOB)
    ]


def job_params(placement: str, entity_ids: Sequence[str], days: Window) -> dict[str, str]:
    """One stats job: the campaigns' figures per day of the window."""
    return {
        "entity": "CAMPAIGN",
        "entity_ids": ",".join(entity_ids),
        "start_time": days.start_time,
        "end_time": days.end_time,
        "granularity": "DAY",
        "placement": placement,
        "metric_groups": METRIC_GROUPS,
    }


def job_id(body: Any) -> str:
    """The id of a job X has just created (`id_str`: `id` is too long for a JSON number)."""
    found = answers.first(body, "data.id_str") or answers.first(body, "data.id")
    if found is None:
        raise unreadable(NAME)
    return str(found)


def job_states(body: Any) -> Iterator[tuple[str, str, str | None]]:
    """Each job of a status look: its id, its status and, once done, its file's URL."""
    for job in answers.found(body, "data.*"):
        found = answers.first(job, "id_str") or answers.first(job, "id")
        if found is not None:
            url = answers.first(job, "url")
            yield str(found), str(answers.first(job, "status")), str(url) if url else None


def unpacked(content: bytes) -> Any:
    """A result file: gzip JSON (read as it is when something on the way unzipped it)."""
    try:
        text = gzip.decompress(content) if content.startswith(GZIP_MAGIC) else content
        return json.loads(text)
    except (OSError, EOFError, ValueError):
        raise unreadable(NAME) from None


def daily_metrics(files: Iterable[Any], days: Window, currency: str | None) -> list[DailyMetrics]:
    """The files' campaigns added up per day of the window; a day no campaign served is a day
    of zeros."""
    totals = [[Decimal(0)] * 4 for _ in range(days.days)]
    for metrics in _every_metrics(files):
        for n, figures in enumerate(_series(metrics, days.days)):
            totals[n] = [a + b for a, b in zip(totals[n], figures, strict=True)]
    served = (
        DailyMetrics(
            days.first + timedelta(days=n),
            int(t[0]),
            int(t[1]),
            t[2] / MICROS,
            int(t[3]),
            currency,
        )
        for n, t in enumerate(totals)
    )
    return zero_filled(served, days.first, days.last, currency)


def _every_metrics(files: Iterable[Any]) -> Iterator[Any]:
    for file in files:
        yield from answers.found(file, "data.*.id_data.*.metrics")


def _series(metrics: Any, days: int) -> list[list[Decimal]]:
    """A campaign's impressions, clicks, spend (micros) and conversions, per day."""
    impressions = _values(metrics, "impressions", days)
    clicks = _values(metrics, "clicks", days)
    spend = _values(metrics, "billed_charge_local_micro", days)
    conversions = [Decimal(0)] * days
    for name in CONVERSIONS:
        found = _values(metrics, f"{name}.metric", days)
        conversions = [a + b for a, b in zip(conversions, found, strict=True)]
    return [list(day) for day in zip(impressions, clicks, spend, conversions, strict=True)]


def _values(metrics: Any, path: str, days: int) -> list[Decimal]:
    """One metric's day-by-day values; X writes `null` for a metric (or a day) without any."""
    found = answers.first(metrics, path)
    if found is None:
        return [Decimal(0)] * days
    if not isinstance(found, list) or len(found) != days:
        raise unreadable(NAME)
    return [_number(value) for value in found]


def _number(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise unreadable(NAME)
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise unreadable(NAME) from None
    if not number.is_finite():
        raise unreadable(NAME)
    return number
