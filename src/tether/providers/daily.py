"""Daily reports: what every provider's report shares (days left out are zeros, an answer of the
wrong shape is retried), and a report described as data (`ReportCall`) for providers without
code of their own."""

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from tether.providers import answers
from tether.providers.base import DailyMetrics, ProviderCallError, Reason
from tether.providers.definition import ReportCall

# The names a report's URL and parameters may use besides the bases.
PLACEHOLDERS = ("account_id", "start", "end")


def request_of(
    call: ReportCall, bases: Mapping[str, str], *, account_id: str, start: date, end: date
) -> tuple[str, dict[str, str]]:
    """The report's URL and parameters for one account and range."""
    values = {
        "account_id": account_id,
        "start": start.strftime(call.date_format),
        "end": end.strftime(call.date_format),
    }
    # In the path the account id is one segment, whatever it holds.
    url = call.url.format_map({**bases, **values, "account_id": quote(account_id, safe="")})
    return url, {name: value.format_map(values) for name, value in call.params.items()}


def metrics_of(
    call: ReportCall, body: Any, *, start: date, end: date, provider_name: str
) -> list[DailyMetrics]:
    """The answer's rows added up per day, within the range asked for, oldest first."""
    default_currency = answers.first(body, call.currency_path)
    days: dict[date, DailyMetrics] = {}
    for row in answers.found(body, call.rows_path):
        day = _day(call, row, provider_name)
        if not start <= day <= end:
            continue
        currency = answers.first(row, call.currency_path) or default_currency
        seen = _row(call, row, day, str(currency) if currency else None, provider_name)
        days[day] = _added(days[day], seen) if day in days else seen
    return [days[day] for day in sorted(days)]


def _row(
    call: ReportCall, row: Any, day: date, currency: str | None, provider_name: str
) -> DailyMetrics:
    spend = figure(row, call.spend_path, provider_name) / call.spend_divisor
    return DailyMetrics(
        day,
        int(figure(row, call.impressions_path, provider_name)),
        int(figure(row, call.clicks_path, provider_name)),
        spend,
        int(figure(row, call.conversions_path, provider_name)),
        currency,
    )


def _added(a: DailyMetrics, b: DailyMetrics) -> DailyMetrics:
    return DailyMetrics(
        a.day,
        a.impressions + b.impressions,
        a.clicks + b.clicks,
        a.spend + b.spend,
        a.conversions + b.conversions,
        a.currency or b.currency,
    )


def _day(call: ReportCall, row: Any, provider_name: str) -> date:
    value = answers.first(row, call.date_path)
    try:
        return datetime.strptime(str(value), call.date_format).date()
    except ValueError:
        raise _unreadable(provider_name, f"a day written {str(value)[:40]!r}") from None


def figure(row: Any, path: str | None, provider_name: str) -> Decimal:
    """A figure of a report row, written as a number or a decimal string; absent is zero,
    and anything else is an answer Tether cannot read (retried, never a lapse)."""
    value = answers.first(row, path)
    if value is None:
        return Decimal(0)
    if isinstance(value, bool | dict | list):
        raise _unreadable(provider_name, f"a figure at {path}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise _unreadable(provider_name, f"a figure at {path}")
    return number


def _unreadable(provider_name: str, what: str) -> ProviderCallError:
    # Retried like any unknown failure: a report Tether cannot read is never a lapse.
    return ProviderCallError(
        Reason.UNKNOWN, f"{provider_name}'s report holds {what} that Tether cannot read."
    )


def unreadable(provider_name: str) -> ProviderCallError:
    """A report answer of the wrong shape: retried like any unknown failure, never a lapse."""
    return ProviderCallError(
        Reason.UNKNOWN, f"{provider_name} answered a report Tether cannot read."
    )


def windows(start: date, end: date, days: int) -> list[tuple[date, date]]:
    """The range cut into pieces of at most `days` days, oldest first: what one report call of
    a provider may ask for."""
    pieces = []
    while start <= end:
        last = min(end, start + timedelta(days=days - 1))
        pieces.append((start, last))
        start = last + timedelta(days=1)
    return pieces


def zero_filled(
    served: Iterable[DailyMetrics], start: date, end: date, currency: str | None = None
) -> list[DailyMetrics]:
    """Every day of the range up to today, in date order; a day the report left out is a day
    of zeros. Google and Meta leave out days without delivery: taken as "not served", such a
    day would be asked for again and again, then declared lost."""
    by_day = {m.day: m for m in served if start <= m.day <= end}
    currency = currency or next((m.currency for m in by_day.values() if m.currency), None)
    last = min(end, datetime.now(UTC).date())
    every = [start + timedelta(days=n) for n in range((last - start).days + 1)]
    return [by_day.get(d) or DailyMetrics(d, 0, 0, Decimal(0), 0, currency) for d in every]
