"""Snapchat Ads' stats per day: the query of one ad account in its own time zone, and its answer
as Tether's days (see `snapchat_ads.py` for the facts and decisions)."""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tether.providers import answers
from tether.providers.base import DailyMetrics, ProviderCallError, Reason
from tether.providers.daily import figure, unreadable, zero_filled

NAME = "Snapchat Ads"
MAX_DAYS_PER_CALL = 31
STATS_FIELDS = ("impressions", "swipes", "spend", "conversion_purchases", "conversion_sign_ups")
CONVERSION_FIELDS = ("conversion_purchases", "conversion_sign_ups")
MICROS = Decimal(1_000_000)
# Asked for explicitly (Snap's defaults are unclear), so the 28-day restatement always holds.
ATTRIBUTION = {"swipe_up_attribution_window": "28_DAY", "view_attribution_window": "1_DAY"}


def account_zone(account: Any, provider_name: str = NAME) -> ZoneInfo:
    """The time zone an ad account's days start in (`America/Los_Angeles`)."""
    name = answers.first(account, "timezone")
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ProviderCallError(
            Reason.UNKNOWN,
            f"{provider_name} named an ad account time zone Tether does not know: "
            f"{str(name)[:40]!r}.",
        ) from None


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The start of a day in the account's zone, with the UTC offset of that day."""
    return datetime.combine(day, time(0), tzinfo=zone)


def stats_params(first: date, last: date, zone: ZoneInfo) -> dict[str, str]:
    """A DAY query from the first day's midnight to the midnight after the last, in the
    account's zone (Snap refuses any other start)."""
    return {
        "granularity": "DAY",
        "fields": ",".join(STATS_FIELDS),
        "start_time": _written(midnight(first, zone)),
        "end_time": _written(midnight(last + timedelta(days=1), zone)),
        "omit_empty": "false",
        **ATTRIBUTION,
    }


def _written(moment: datetime) -> str:
    """Snap's way: `2026-03-01T00:00:00.000-08:00`."""
    return moment.isoformat(timespec="milliseconds")


def daily_metrics(
    series: Iterable[Any], zone: ZoneInfo, start: date, end: date, currency: str | None
) -> list[DailyMetrics]:
    """A timeseries as Tether's days; a day Snap left out is a day of zeros."""
    return zero_filled((_day_of(point, zone, currency) for point in series), start, end, currency)


def _day_of(point: Any, zone: ZoneInfo, currency: str | None) -> DailyMetrics:
    stats = answers.first(point, "stats")
    return DailyMetrics(
        day_in(answers.first(point, "start_time"), zone),
        int(figure(stats, "impressions", NAME)),
        int(figure(stats, "swipes", NAME)),
        figure(stats, "spend", NAME) / MICROS,
        int(sum(figure(stats, f, NAME) for f in CONVERSION_FIELDS)),
        currency,
    )


def day_in(written: Any, zone: ZoneInfo) -> date:
    """The account's day a timeseries point starts on."""
    try:
        moment = datetime.fromisoformat(str(written))
    except ValueError:
        raise unreadable(NAME) from None
    # Snap writes the offset; a time without one is read in the account's zone.
    return (moment.astimezone(zone) if moment.tzinfo else moment).date()
