"""Amazon Ads' daily report: the v3 reporting API's asynchronous report of a profile's Sponsored
Products campaigns per day, and its rows as Tether's days (see `amazon_ads.py` for the facts and
decisions)."""

import gzip
import json
import re
from datetime import date
from typing import Any

from tether.providers import answers
from tether.providers.base import DailyMetrics, ProviderCallError, Reason
from tether.providers.daily import metrics_of, unreadable, zero_filled
from tether.providers.definition import ReportCall

NAME = "Amazon Ads"
# An spCampaigns report spans at most 31 days and reaches 95 days back.
MAX_DAYS_PER_CALL = 31
HISTORY_DAYS = 95
CONTENT_TYPE = "application/vnd.createasyncreportrequest.v3+json"
# No metadata columns (campaign names, ids): Amazon makes such reports faster, and Tether adds
# the campaigns of a day up anyway.
COLUMNS = ("date", "impressions", "clicks", "cost", "purchases7d")
CONVERSIONS = "purchases7d"
# Seconds before each look at a report: at once (a small report is often ready), then longer,
# about a minute in all. A report still not ready is asked for again by the next sync.
POLL_WAITS = (0.0, 2.0, 3.0, 5.0, 10.0, 15.0, 25.0)
# How a downloaded file's rows are read: every item, its figures by column name.
ROWS = ReportCall(
    url="{na}/reporting/reports",
    method="POST",
    rows_path="*",
    date_path="date",
    spend_path="cost",
    conversions_path=CONVERSIONS,
)
COMPLETED = "COMPLETED"
UNDER_WAY = frozenset({"PENDING", "PROCESSING"})
# 425's words: "The Request is a duplicate of : <reportId>".
_DUPLICATE = re.compile(r"duplicate of\s*:\s*([A-Za-z0-9-]+)")
_GZIP_MAGIC = b"\x1f\x8b"


def report_request(first: date, last: date) -> dict[str, Any]:
    """The body of `POST /reporting/reports`: one row per campaign and day. The name is the
    same for the same days, so asking again while Amazon still makes the report is a duplicate
    (425) that names it, rather than a second report."""
    return {
        "name": f"Tether daily {first.isoformat()}..{last.isoformat()}",
        "startDate": first.isoformat(),
        "endDate": last.isoformat(),
        "configuration": {
            "adProduct": "SPONSORED_PRODUCTS",
            "groupBy": ["campaign"],
            "columns": list(COLUMNS),
            "reportTypeId": "spCampaigns",
            "timeUnit": "DAILY",
            "format": "GZIP_JSON",
        },
    }


def duplicate_of(error: ProviderCallError) -> str | None:
    """The report a refused request duplicates (HTTP 425), which Tether then waits for."""
    if error.status != 425:
        return None
    found = _DUPLICATE.search(error.message)
    return found.group(1) if found else None


def not_ready(first: date, last: date, status: Any) -> ProviderCallError:
    """A report still being made: a passing failure, asked for again later, never a lapse."""
    return ProviderCallError(
        Reason.UNKNOWN,
        f"{NAME} has not finished the report of {first.isoformat()} to {last.isoformat()} yet "
        f"(status {str(status)[:40]}); Tether asks for it again at the next sync.",
    )


def failed(report: Any) -> ProviderCallError:
    """A report Amazon gave up on, in its words when it has any; retried, never a lapse."""
    reason = answers.first(report, "failureReason")
    words = str(reason).strip()[:300] if reason else "no reason given"
    return ProviderCallError(Reason.UNKNOWN, f"{NAME} could not make the report: {words}")


def rows_of(content: bytes) -> list[Any]:
    """The rows of a downloaded report file: gzip-compressed JSON, a list of rows."""
    try:
        text = gzip.decompress(content) if content.startswith(_GZIP_MAGIC) else content
        rows = json.loads(text)
    except (OSError, EOFError, ValueError):
        raise unreadable(NAME) from None
    if not isinstance(rows, list):
        raise unreadable(NAME)
    return rows


def daily_metrics(rows: list[Any], start: date, end: date) -> list[DailyMetrics]:
    """Campaign rows added up per day; a day without a row (no delivery) is a day of zeros.
    The rows carry no currency: a day's currency is its profile's."""
    served = metrics_of(ROWS, rows, start=start, end=end, provider_name=NAME)
    return zero_filled(served, start, end)
