"""Microsoft Advertising's Reporting service in the sandbox: `GenerateReport/Submit` for an
`AccountPerformanceReportRequest` aggregated `Daily`, `GenerateReport/Poll`, and the report file
(a zip holding one CSV or TSV) at a signed download URL valid five minutes, with the figures of
`metrics.day_metrics`.

A report answers "Pending" to as many polls as the sandbox's `report_pending_polls` setting
says (none unless set), then "Success" with its URL, or without one when it holds no rows.
Rows are left out for days without impressions, as Microsoft leaves them out. The sandbox keeps
daily figures only: it makes `Daily` reports over a custom date range, in Csv or Tsv. Reports
live in memory for a day, like Microsoft's report request ids.
"""

import csv
import io
import secrets
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tether.sandbox.dialects.microsoft_api import (
    AdsFault,
    Caller,
    account_number,
    body_of,
    caller,
    not_authorized,
)
from tether.sandbox.faults import sandbox_state
from tether.sandbox.metrics import day_metrics, served_days
from tether.sandbox.state import SandboxAccount, SandboxState

REPORT_TYPE = "AccountPerformanceReportRequest"
MEASURES = frozenset({"Impressions", "Clicks", "Spend", "Conversions", "Ctr"})
COLUMNS = MEASURES | {"TimePeriod", "AccountId", "AccountName", "AccountNumber", "CurrencyCode"}
DELIMITERS = {"Csv": ",", "Tsv": "\t"}
MAX_ACCOUNTS = 1000
URL_SECONDS = 300
KEPT_SECONDS = 86400
# Where "today" is for a report time zone: the sandbox knows these; others count from UTC.
DEFAULT_ZONE = "PacificTimeUSCanadaTijuana"
LONDON = "GreenwichMeanTimeDublinEdinburghLisbonLondon"
ZONE_HOURS = {DEFAULT_ZONE: -8, LONDON: 0}
ZONE_LABELS = {
    DEFAULT_ZONE: "(GMT-08:00) Pacific Time (US & Canada); Tijuana",
    LONDON: "(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London",
}
FOOTER = "©2026 Microsoft Corporation. All rights reserved. "
_NEEDED = ("CustomerAccountId", "CustomerId")


@dataclass
class Report:
    id: str
    user_id: str
    accounts: tuple[SandboxAccount, ...]
    days: tuple[date, ...]
    columns: tuple[str, ...]
    request: Mapping[str, Any]
    pending: int
    created: float
    signature: str | None = None
    url_until: float = 0.0


class ReportStore:
    """The reports of a day, by id (what `report_pending_polls` leaves pending included)."""

    def __init__(self) -> None:
        self._reports: dict[str, Report] = {}

    def add(self, report: Report) -> None:
        old = time.time() - KEPT_SECONDS
        self._reports = {k: r for k, r in self._reports.items() if r.created > old}
        self._reports[report.id] = report

    def get(self, report_id: str) -> Report | None:
        return self._reports.get(report_id)


def reporting_fault(
    code: int, error_code: str, message: str, details: str | None = None
) -> AdsFault:
    """A Reporting operation's refusal (an `ApiFaultDetail`)."""
    return AdsFault(
        400, code, message, error_code=error_code, kind="ApiFaultDetail", details=details
    )


def _store(request: Request) -> ReportStore:
    store: ReportStore = request.app.state.microsoft_reports
    return store


reporting = APIRouter(prefix="/reporting/Reporting/v13")
download = APIRouter(prefix="/download")


@reporting.post("/GenerateReport/Submit")
async def submit(
    request: Request, who: Annotated[Caller, Depends(caller("metrics", *_NEEDED))]
) -> dict[str, str]:
    """SubmitGenerateReport: the report request's id, valid a day."""
    wanted = (await body_of(request)).get("ReportRequest")
    if not isinstance(wanted, dict):
        raise reporting_fault(
            2001, "ReportingServiceNullReportRequest", "The report request is null."
        )
    state = sandbox_state(request)
    _check_kind(wanted)
    report = Report(
        id=str(30_000_000_000 + secrets.randbelow(10**10)),
        user_id=who.user.id,
        accounts=tuple(_scope(state, who.user.id, wanted.get("Scope"))),
        days=tuple(_days(state, wanted.get("Time"))),
        columns=tuple(_columns(wanted.get("Columns"))),
        request=wanted,
        pending=state.settings.report_pending_polls,
        created=time.time(),
    )
    _store(request).add(report)
    return {"ReportRequestId": report.id}


def _check_kind(wanted: Mapping[str, Any]) -> None:
    if wanted.get("Type") != REPORT_TYPE:
        raise reporting_fault(
            2002, "ReportingServiceUnknownReportType", "The report request type is not valid."
        )
    if wanted.get("Format", "Csv") not in DELIMITERS:
        raise reporting_fault(
            201,
            "ApiInputValidationError",
            "One or more input elements failed validation.",
            "The sandbox writes Csv and Tsv reports only.",
        )
    if wanted.get("Aggregation") != "Daily":
        raise reporting_fault(
            2007,
            "ReportingServiceInvalidReportAggregation",
            "The report aggregation is not valid for the specified report time period.",
            "The sandbox keeps daily figures only.",
        )


def _columns(columns: Any) -> list[str]:
    if not isinstance(columns, list) or not columns:
        raise reporting_fault(
            2014,
            "ReportingServiceNullColumns",
            "The list of columns to include in the report cannot be null or empty.",
        )
    unknown = [str(c) for c in columns if c not in COLUMNS]
    if unknown:
        raise reporting_fault(
            201,
            "ApiInputValidationError",
            "One or more input elements failed validation.",
            f"Unknown columns: {', '.join(unknown)}",
        )
    if len(set(columns)) != len(columns):
        raise reporting_fault(
            2016,
            "ReportingServiceDuplicateColumns",
            "The list of columns to include in the report contains duplicate.",
        )
    if "TimePeriod" not in columns or not MEASURES & set(columns):
        raise reporting_fault(
            2015,
            "ReportingServiceRequiredColumnsNotSelected",
            "The list of columns to include in the report must contain all required columns.",
        )
    return [str(c) for c in columns]


def _scope(state: SandboxState, user_id: str, scope: Any) -> list[SandboxAccount]:
    ids = scope.get("AccountIds") if isinstance(scope, dict) else None
    if not isinstance(ids, list) or not ids:
        raise reporting_fault(
            2026,
            "ReportingServiceInvalidAccountReportScope",
            "The account report scope does not contain account identifiers.",
        )
    if len(ids) > MAX_ACCOUNTS:
        raise reporting_fault(
            2029,
            "ReportingServiceAccountsOverLimit",
            "The report scope contains too many accounts.",
        )
    unknown = [str(i) for i in ids if str(i) not in state.accounts]
    if unknown:
        raise reporting_fault(
            2035,
            "ReportingServiceInvalidAccountIds",
            "The report request contains at least one account identifier that is not valid.",
            ",".join(unknown[:20]),
        )
    reached = set(state.reachable_account_ids(user_id))
    if any(str(i) not in reached for i in ids):
        raise not_authorized()
    return [state.accounts[str(i)] for i in dict.fromkeys(ids)]


def _date(value: Any, code: int, error_code: str, message: str) -> date:
    try:
        assert isinstance(value, dict)
        return date(int(value["Year"]), int(value["Month"]), int(value["Day"]))
    except (AssertionError, KeyError, TypeError, ValueError):
        raise reporting_fault(code, error_code, message) from None


def _days(state: SandboxState, time_of: Any) -> list[date]:
    """The days of a custom date range the sandbox has figures for, after Microsoft's checks."""
    if (
        not isinstance(time_of, dict)
        or time_of.get("PredefinedTime")
        or "CustomDateRangeStart" not in time_of
    ):
        raise reporting_fault(
            2008,
            "ReportingServiceInvalidReportTimeSelection",
            "The report time is null or contains more than one predefined time, custom date, or "
            "custom date range start and end.",
            "The sandbox answers custom date ranges only.",
        )
    start = _date(
        time_of.get("CustomDateRangeStart"),
        2009,
        "ReportingServiceInvalidCustomDateRangeStart",
        "The report time contains a custom date range start value that is not valid.",
    )
    end = _date(
        time_of.get("CustomDateRangeEnd"),
        2010,
        "ReportingServiceInvalidCustomDateRangeEnd",
        "The report time contains a custom date range end value that is not valid.",
    )
    _check_range(start, end, _today(time_of.get("ReportTimeZone") or DEFAULT_ZONE))
    return served_days(start, end, state.settings.history_days)


def _today(zone: str) -> date:
    return (datetime.now(UTC) + timedelta(hours=ZONE_HOURS.get(zone, 0))).date()


def _check_range(start: date, end: date, today: date) -> None:
    if end < start:
        raise reporting_fault(
            2011,
            "ReportingServiceEndDateBeforeStartDate",
            "The report time contains a custom date range that is not valid; the end date cannot "
            "be earlier than the start date.",
        )
    if start > today:
        raise reporting_fault(
            2041,
            "ReportingServiceInvalidFutureStartDate",
            "The specified report time start date is in the future.",
        )
    if end > today:
        raise reporting_fault(
            2010,
            "ReportingServiceInvalidCustomDateRangeEnd",
            "The report time contains a custom date range end value that is not valid.",
        )


@reporting.post("/GenerateReport/Poll")
async def poll(
    request: Request, who: Annotated[Caller, Depends(caller("metrics", *_NEEDED))]
) -> dict[str, Any]:
    """PollGenerateReport: Pending, then Success with a download URL valid five minutes (none
    when the report holds no rows)."""
    report_id = (await body_of(request)).get("ReportRequestId")
    report = _store(request).get(str(report_id))
    if report is None or report.user_id != who.user.id:
        raise reporting_fault(
            2100, "ReportingServiceInvalidReportId", "The report identifier is not valid."
        )
    if report.pending > 0:
        report.pending -= 1
        return {"ReportRequestStatus": {"ReportDownloadUrl": None, "Status": "Pending"}}
    url = _signed_url(request, report) if _rows(report) else None
    return {"ReportRequestStatus": {"ReportDownloadUrl": url, "Status": "Success"}}


def _signed_url(request: Request, report: Report) -> str:
    """A storage URL in the shape of a signed blob URL: whoever holds it may download, for five
    minutes, without any other credentials."""
    report.signature = secrets.token_urlsafe(24)
    report.url_until = time.time() + URL_SECONDS
    until = datetime.fromtimestamp(report.url_until, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = urlencode(
        {"sv": "2021-08-06", "se": until, "sr": "b", "sp": "r", "sig": report.signature}
    )
    path = request.scope.get("root_path", "") + f"/download/{report.id}.zip"
    return str(request.url.replace(path=path, query=query))


_DENIED = (
    '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>'
    "Server failed to authenticate the request. Make sure the value of Authorization header is "
    "formed correctly including the signature.</Message></Error>"
)


@download.get("/{name}")
async def report_file(request: Request, name: str) -> Response:
    """The report's zip, for whoever holds its signed URL while it is valid."""
    report = _store(request).get(name.removesuffix(".zip"))
    signature = request.query_params.get("sig", "")
    if (
        report is None
        or report.signature is None
        or not secrets.compare_digest(signature, report.signature)
        or time.time() > report.url_until
    ):
        return Response(_DENIED, status_code=403, media_type="application/xml")
    return Response(zipped(report), media_type="application/x-zip-compressed")


def _rows(report: Report) -> list[list[str]]:
    values = []
    for day in report.days:
        for account in report.accounts:
            figures = day_metrics(account, day)
            if figures["impressions"]:
                values.append([_value(c, account, day, figures) for c in report.columns])
    return values


def _value(column: str, account: SandboxAccount, day: date, figures: Mapping[str, Any]) -> str:
    impressions, clicks = figures["impressions"], figures["clicks"]
    by_column = {
        "TimePeriod": day.isoformat(),
        "AccountId": account.id,
        "AccountName": account.name,
        "AccountNumber": account_number(account),
        "CurrencyCode": account.currency,
        "Impressions": str(impressions),
        "Clicks": str(clicks),
        "Spend": str(figures["spend"]),
        "Conversions": str(figures["conversions"]),
        "Ctr": f"{100 * clicks / impressions:.2f}%",
    }
    return by_column[column]


def zipped(report: Report) -> bytes:
    """The report file as Microsoft hands it out: zip compressed, the text with a BOM."""
    buffer = io.BytesIO()
    extension = "tsv" if report.request.get("Format") == "Tsv" else "csv"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{report.id}.{extension}", "\ufeff" + _text(report))
    return buffer.getvalue()


def _text(report: Report) -> str:
    out = io.StringIO()
    delimiter = DELIMITERS[str(report.request.get("Format", "Csv"))]
    writer = csv.writer(out, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    rows = _rows(report)
    if not report.request.get("ExcludeReportHeader"):
        writer.writerows([line] for line in _header(report, len(rows)))
    if not report.request.get("ExcludeColumnHeaders"):
        writer.writerow(report.columns)
    writer.writerows(rows)
    if not report.request.get("ExcludeReportFooter"):
        writer.writerows([[], [FOOTER]])
    return out.getvalue()


def _header(report: Report, rows: int) -> Sequence[str]:
    first, last = (report.days[0], report.days[-1]) if report.days else (None, None)
    span = f"{first:%-m/%-d/%Y},{last:%-m/%-d/%Y}" if first and last else ""
    name = report.request.get("ReportName") or f"AccountPerformanceReport-{report.id}"
    time_of = report.request.get("Time")
    zone = (time_of.get("ReportTimeZone") if isinstance(time_of, dict) else None) or DEFAULT_ZONE
    return (
        f"Report Name: {name}",
        f"Report Time: {span}",
        f"Time Zone: {ZONE_LABELS.get(zone, zone)}",
        f"Last Completed Available Day: {datetime.now(UTC):%-m/%-d/%Y %-I:%M:%S %p} (GMT)",
        f"Last Completed Available Hour: {datetime.now(UTC):%-m/%-d/%Y %-I:%M:%S %p} (GMT)",
        "Report Aggregation: Daily",
        "Report Filter: ",
        "Potential Incomplete Data: true",
        f"Rows: {rows}",
    )
