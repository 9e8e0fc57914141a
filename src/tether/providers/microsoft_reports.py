"""Microsoft Advertising's daily report: the `AccountPerformanceReportRequest` Tether submits,
and the report file it downloads (a zip holding one CSV) read as Tether's days.

The request asks for one account's figures per day (`Aggregation` Daily, `TimePeriod` and the
figures as columns) over a custom date range, as a CSV without the report's header and footer
lines (`reports.md`, "Report File Schema"). Rows come per day in the account's own time zone;
`ReportTimeZone` only sets which day is "today", and London's is never behind UTC's, so a range
ending on Tether's today is never refused as in the future (Microsoft's default, Pacific time,
would be, in the first hours of each UTC day).
"""

import csv
import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tether.providers.base import DailyMetrics, ProviderCallError, Reason
from tether.providers.daily import figure, unreadable, zero_filled

REPORT_TYPE = "AccountPerformanceReportRequest"
COLUMNS = (
    "TimePeriod",
    "AccountId",
    "CurrencyCode",
    "Impressions",
    "Clicks",
    "Spend",
    "Conversions",
)
FIGURES = ("Impressions", "Clicks", "Spend", "Conversions")
REPORT_TIME_ZONE = "GreenwichMeanTimeDublinEdinburghLisbonLondon"
# A report file far beyond a few years of one account's days is not one Tether asked for.
MAX_FILE_BYTES = 20_000_000


def report_request(account_id: str, start: date, end: date) -> dict[str, Any]:
    """SubmitGenerateReport's body for one account's days."""
    return {
        "ReportRequest": {
            "Type": REPORT_TYPE,
            "ReportName": f"Tether daily {account_id} {start.isoformat()} {end.isoformat()}",
            "Format": "Csv",
            "FormatVersion": "2.0",
            "ExcludeReportHeader": True,
            "ExcludeReportFooter": True,
            "ExcludeColumnHeaders": False,
            "ReturnOnlyCompleteData": False,
            "Aggregation": "Daily",
            "Columns": list(COLUMNS),
            "Scope": {"AccountIds": [account_id]},
            "Time": {
                "CustomDateRangeStart": _date(start),
                "CustomDateRangeEnd": _date(end),
                "ReportTimeZone": REPORT_TIME_ZONE,
            },
        }
    }


def _date(day: date) -> dict[str, int]:
    return {"Day": day.day, "Month": day.month, "Year": day.year}


def rows_of(archive: bytes, provider_name: str) -> list[dict[str, str]]:
    """The rows of a downloaded report, by column name. The header row is the one naming
    `TimePeriod`, so report header lines before it (if any) are passed over; rows of another
    length (a footer) are left out."""
    lines = _text_of(archive, provider_name).splitlines()
    table = list(csv.reader(lines))
    start = next((n for n, row in enumerate(table) if "TimePeriod" in row), None)
    if start is None:
        raise unreadable(provider_name)
    header = table[start]
    return [
        dict(zip(header, row, strict=True)) for row in table[start + 1 :] if len(row) == len(header)
    ]


def _text_of(archive: bytes, provider_name: str) -> str:
    if len(archive) > MAX_FILE_BYTES:
        raise unreadable(provider_name)
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as opened:
            members = [m for m in opened.infolist() if not m.is_dir()]
            if not members or members[0].file_size > MAX_FILE_BYTES:
                raise unreadable(provider_name)
            return opened.read(members[0]).decode("utf-8-sig")
    except (zipfile.BadZipFile, UnicodeDecodeError, EOFError):
        raise unreadable(provider_name) from None


def daily_metrics(
    rows: Iterable[Mapping[str, str]], start: date, end: date, provider_name: str
) -> list[DailyMetrics]:
    """Report rows as Tether's days, added up per day; a day without a row is a day of zeros."""
    days: dict[date, DailyMetrics] = {}
    for row in rows:
        seen = _day_of(row, provider_name)
        if start <= seen.day <= end:
            days[seen.day] = _added(days[seen.day], seen) if seen.day in days else seen
    return zero_filled(days.values(), start, end)


def _day_of(row: Mapping[str, str], provider_name: str) -> DailyMetrics:
    try:
        day = date.fromisoformat(row.get("TimePeriod", ""))
    except ValueError:
        raise unreadable(provider_name) from None
    figures = {name: _plain(row.get(name)) for name in FIGURES}
    conversions = figure(figures, "Conversions", provider_name)
    return DailyMetrics(
        day,
        int(figure(figures, "Impressions", provider_name)),
        int(figure(figures, "Clicks", provider_name)),
        figure(figures, "Spend", provider_name),
        int(conversions.quantize(Decimal(1), rounding=ROUND_HALF_UP)),
        row.get("CurrencyCode") or None,
    )


def _plain(value: str | None) -> str | None:
    """A figure as written in the file ("1,234.50" with format 1.0's thousands separators);
    an empty cell is no figure."""
    text = (value or "").replace(",", "").strip()
    return text or None


def _added(a: DailyMetrics, b: DailyMetrics) -> DailyMetrics:
    return DailyMetrics(
        a.day,
        a.impressions + b.impressions,
        a.clicks + b.clicks,
        a.spend + b.spend,
        a.conversions + b.conversions,
        a.currency or b.currency,
    )


def not_ready(provider_name: str, waited: Sequence[float]) -> ProviderCallError:
    """A report still pending after every poll: the sync tries again later, never a lapse."""
    return ProviderCallError(
        Reason.UNKNOWN,
        f"{provider_name}'s report was not ready after {sum(waited):.0f} seconds; the next sync "
        "asks for it again.",
    )


def failed(provider_name: str, status: object) -> ProviderCallError:
    """A report Microsoft could not make ("Error"): it asks for a new request, so a later sync
    submits one."""
    return ProviderCallError(
        Reason.UNKNOWN,
        f"{provider_name} could not make the report (status {status}); the next sync asks again.",
    )
