"""Amazon Ads' v3 reports in the sandbox: `POST /reporting/reports`, `GET
/reporting/reports/{id}`, and the report file behind a presigned link, with one row per campaign
and day from the sandbox's deterministic figures (`metrics.day_metrics`): the campaigns of a
day add up to exactly that day's figures.

A report is PENDING when asked for and COMPLETED when first looked at, unless the user's calls
are slowed (`PUT /faults {"slow_ms": …}`): a slow platform makes slow reports, and they stay
PROCESSING for as long as it stays slow. Asking for an identical report while one is being made
is Amazon's 425 naming it (the same request of the same grant, in the sandbox: Amazon's own
test of sameness is unknown). The sandbox makes the one report type Tether asks for,
`spCampaigns` by campaign per day; any other configuration is refused in the sandbox's own
words. The file's link is signed and lasts an hour; a link expired or tampered with answers as
S3 does, in XML.
"""

import gzip
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tether.sandbox.dialects.amazon_api import (
    AdsError,
    Caller,
    ads_error,
    caller,
    invalid,
    profile_id,
    scoped,
)
from tether.sandbox.faults import sandbox_state
from tether.sandbox.metrics import day_metrics, served_days
from tether.sandbox.state import SandboxAccount, SandboxState

CONTENT_TYPES = ("application/vnd.createasyncreportrequest.v3+json", "application/json")
MAX_RANGE_DAYS = 31
HISTORY_DAYS = 95
LINK_SECONDS = 3600
# Reports older than this are forgotten, so a long-running sandbox does not keep them all.
KEPT_SECONDS = 2 * 86400
COLUMNS = frozenset(
    {
        "date",
        "campaignId",
        "campaignName",
        "impressions",
        "clicks",
        "cost",
        "spend",
        "purchases1d",
        "purchases7d",
        "purchases14d",
        "purchases30d",
    }
)
UNDER_WAY = ("PENDING", "PROCESSING")
_SUPPORTED = {
    "adProduct": "SPONSORED_PRODUCTS",
    "reportTypeId": "spCampaigns",
    "timeUnit": "DAILY",
    "format": "GZIP_JSON",
}

reporting = APIRouter()


@dataclass
class Report:
    id: str
    account_id: str
    owner: tuple[str, int, str]  # grant id, profile id, region
    request: dict[str, Any]
    created_at: float
    status: str = "PENDING"
    generated_at: float | None = None
    content: bytes = field(default=b"", repr=False)

    def key(self) -> tuple[str, int, str, str]:
        return (*self.owner, json.dumps(self.request, sort_keys=True))


def _reports(request: Request) -> dict[str, Report]:
    reports: dict[str, Report] = request.app.state.amazon_reports
    return reports


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return (
        datetime.fromtimestamp(moment, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


# -- asking for a report --------------------------------------------------------------------


def _days(body: dict[str, Any]) -> tuple[date, date]:
    try:
        first = date.fromisoformat(str(body["startDate"]))
        last = date.fromisoformat(str(body["endDate"]))
    except (KeyError, ValueError):
        raise invalid("startDate and endDate must be dates written YYYY-MM-DD.") from None
    if last < first:
        raise invalid("endDate must not be before startDate.")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise invalid(f"The date range may span at most {MAX_RANGE_DAYS} days.")
    if first < datetime.now(UTC).date() - timedelta(days=HISTORY_DAYS):
        raise ads_error(406, "406", "Report date is too far in the past.")
    return first, last


def _configuration(body: dict[str, Any]) -> list[str]:
    """The columns asked for, once the configuration is the one the sandbox makes."""
    config = body.get("configuration")
    if not isinstance(config, dict):
        raise invalid("configuration is required.")
    for name, value in _SUPPORTED.items():
        if config.get(name) != value:
            raise invalid(f"The sandbox makes {value} reports only (configuration {name}).")
    if config.get("groupBy") != ["campaign"]:
        raise invalid("The sandbox groups spCampaigns reports by campaign only (groupBy).")
    columns = config.get("columns")
    if not isinstance(columns, list) or "date" not in columns:
        raise invalid("columns must be a list holding date for a DAILY report.")
    unknown = sorted(str(c) for c in columns if c not in COLUMNS)
    if unknown:
        raise invalid(f"configuration columns includes invalid values: ({', '.join(unknown)})")
    return [str(c) for c in columns]


async def _body(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in CONTENT_TYPES:
        raise ads_error(415, "415", "Cannot consume content type")
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise invalid("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


def _report_json(report: Report, request: Request) -> dict[str, Any]:
    config = dict(report.request.get("configuration") or {})
    done = report.status == "COMPLETED"
    return {
        "configuration": {**config, "filters": None},
        "createdAt": _iso(report.created_at),
        "endDate": report.request.get("endDate"),
        "failureReason": None,
        "fileSize": len(report.content) if done else None,
        "generatedAt": _iso(report.generated_at),
        "name": report.request.get("name"),
        "reportId": report.id,
        "startDate": report.request.get("startDate"),
        "status": report.status,
        "updatedAt": _iso(report.generated_at or report.created_at),
        "url": download_link(request, report) if done else None,
        "urlExpiresAt": _iso((report.generated_at or 0) + LINK_SECONDS) if done else None,
    }


@reporting.post("/{region}/reporting/reports")
async def create_report(
    request: Request, who: Annotated[Caller, Depends(caller("metrics"))]
) -> Any:
    """A report of one profile asked for: PENDING, or a 425 naming the same one under way."""
    account = scoped(sandbox_state(request), request, who)
    body = await _body(request)
    _days(body)
    _configuration(body)
    owner = (who.grant_id, profile_id(account.id), who.region)
    now, reports = time.time(), _reports(request)
    for old in [r for r in reports.values() if now - r.created_at > KEPT_SECONDS]:
        del reports[old.id]
    report = Report(str(uuid.uuid4()), account.id, owner, body, now)
    same = next(
        (r for r in reports.values() if r.key() == report.key() and r.status in UNDER_WAY), None
    )
    if same is not None:
        detail = f"The Request is a duplicate of : {same.id}"
        raise AdsError(425, {"code": "425", "detail": detail})
    reports[report.id] = report
    return _report_json(report, request)


# -- its status and its file ----------------------------------------------------------------


@reporting.get("/{region}/reporting/reports/{report_id}")
async def report_status(
    request: Request, report_id: str, who: Annotated[Caller, Depends(caller("metrics"))]
) -> Any:
    """A report's status; looked at, it is made (unless the platform is slow)."""
    state = sandbox_state(request)
    profile = profile_id(scoped(state, request, who).id)
    report = _reports(request).get(report_id)
    if report is None or report.owner != (who.grant_id, profile, who.region):
        raise ads_error(404, "NOT_FOUND", f"Report {report_id} was not found.")
    if report.status in UNDER_WAY:
        _advance(state, report, who.user.username)
    return _report_json(report, request)


def _advance(state: SandboxState, report: Report, username: str) -> None:
    if state.faults_for(username).slow_ms > 0:
        report.status = "PROCESSING"
        return
    first = date.fromisoformat(report.request["startDate"])
    last = date.fromisoformat(report.request["endDate"])
    columns = report.request["configuration"]["columns"]
    days = served_days(first, last, state.settings.history_days)
    rows = campaign_rows(state.accounts[report.account_id], days, columns)
    report.content = gzip.compress(json.dumps(rows).encode())
    report.status, report.generated_at = "COMPLETED", time.time()


def _signature(request: Request, report_id: str, signed_at: str) -> str:
    key: bytes = request.app.state.amazon_link_key
    return hmac.new(key, f"{report_id}:{signed_at}".encode(), hashlib.sha256).hexdigest()


def download_link(request: Request, report: Report) -> str:
    """The file's presigned link: no credentials, signed, an hour long."""
    signed_at = str(int(report.generated_at or 0))
    region = report.owner[2]
    prefix = request.scope.get("root_path", "")
    query = (
        f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={signed_at}"
        f"&X-Amz-Expires={LINK_SECONDS}&X-Amz-Signature={_signature(request, report.id, signed_at)}"
    )
    path = f"{prefix}/{region}/files/report-{report.id}.json.gz"
    return str(request.url.replace(path=path, query=query))


def _s3_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")


@reporting.get("/{region}/files/report-{report_id}.json.gz", response_model=None)
async def report_file(request: Request, region: str, report_id: str) -> Response:
    """The report file, as S3 serves it to whoever holds the link."""
    params = request.query_params
    signed_at = params.get("X-Amz-Date", "")
    report = _reports(request).get(report_id)
    if report is None or report.status != "COMPLETED" or report.owner[2] != region:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    wanted = _signature(request, report_id, signed_at)
    if not hmac.compare_digest(wanted, params.get("X-Amz-Signature", "")):
        return _s3_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    if not signed_at.isdigit() or time.time() > int(signed_at) + LINK_SECONDS:
        return _s3_error(403, "AccessDenied", "Request has expired")
    return Response(report.content, media_type="application/octet-stream")


# -- the rows -------------------------------------------------------------------------------


def campaigns_of(account: SandboxAccount) -> list[tuple[int, str, float]]:
    """Two or three Sponsored Products campaigns per account, with each one's share of the
    account's figures; the same in every world."""
    digest = hashlib.sha256(f"amazon:campaigns:{account.id}".encode()).digest()
    count = 2 + digest[0] % 2
    weights = [1 + digest[1 + n] for n in range(count)]
    return [
        (
            10**14 + int.from_bytes(digest[8 + 4 * n : 12 + 4 * n], "big"),
            f"{account.name} — SP campaign {n + 1}",
            weight / sum(weights),
        )
        for n, weight in enumerate(weights)
    ]


def _split(total: int, shares: list[float]) -> list[int]:
    """A whole figure cut into the campaigns' shares, adding up to exactly the total."""
    parts = [int(total * share) for share in shares[:-1]]
    return [*parts, total - sum(parts)]


def campaign_rows(
    account: SandboxAccount, days: list[date], columns: list[str]
) -> list[dict[str, Any]]:
    """One row per campaign and day with delivery, with the columns asked for."""
    campaigns = campaigns_of(account)
    shares = [share for _, _, share in campaigns]
    rows = []
    for day in days:
        figures = day_metrics(account, day)
        cents = int(Decimal(figures["spend"]) * 100)
        cuts = [_split(figures[name], shares) for name in ("impressions", "clicks", "conversions")]
        for n, (number, name, _) in enumerate(campaigns):
            row = _row(day, number, name, cuts[0][n], cuts[1][n], _split(cents, shares)[n])
            row |= _purchases(cuts[2][n])
            if row["impressions"] or row["cost"]:
                rows.append({c: row[c] for c in columns})
    return rows


def _row(
    day: date, number: int, name: str, impressions: int, clicks: int, cents: int
) -> dict[str, Any]:
    # Amazon writes money as a JSON number: cents / 100 reads back as exactly those cents.
    return {
        "date": day.isoformat(),
        "campaignId": number,
        "campaignName": name,
        "impressions": impressions,
        "clicks": clicks,
        "cost": cents / 100,
        "spend": cents / 100,
    }


def _purchases(within_7_days: int) -> dict[str, int]:
    """Purchases attributed within 1, 7, 14 and 30 days of a click: never fewer for a longer
    window."""
    return {
        "purchases1d": within_7_days // 2,
        "purchases7d": within_7_days,
        "purchases14d": within_7_days,
        "purchases30d": within_7_days,
    }
