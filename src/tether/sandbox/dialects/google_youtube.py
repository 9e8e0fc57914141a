"""The sandbox as YouTube: the Data API's channels list and YouTube Analytics' reports, at
Google's paths and in YouTube's shapes. Sandbox accounts act as channels (the channel id is
the sandbox account id); a user owns the channels of the accounts they reach.

YouTube's errors keep the older Google body: `{"error": {"code", "message", "errors":
[{"message", "domain", "reason"}], "status"}}`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from tether.sandbox.dialects.google_analytics import decode_page_token, encode_page_token, served
from tether.sandbox.dialects.google_api import (
    AUTH_CODES,
    INSUFFICIENT_SCOPES,
    INVALID_CREDENTIALS,
    UNAVAILABLE,
    GoogleApiError,
    fault_headers,
    google_caller,
    google_route,
)
from tether.sandbox.faults import sandbox_state
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import SandboxAccount, SandboxError, SandboxUser

SCOPES = (
    "https://www.googleapis.com/auth/youtube.readonly",
    "https://www.googleapis.com/auth/yt-analytics.readonly",
)
QUOTA_EXCEEDED = (
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/'
    'getting-started#quota">quota</a>.'
)
ANALYTICS_QUOTA = (
    "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of "
    "service 'youtubeanalytics.googleapis.com'."
)
NOT_SUPPORTED = (
    "The query is not supported. Check the documentation at https://developers.google.com/"
    "youtube/analytics/v2/available_reports for a list of supported queries."
)
DEFAULT_RESULTS, MAX_RESULTS = 5, 50
PUBLISHED_AT = "2016-03-14T09:00:00Z"
# YouTube Analytics metrics the sandbox reports, each from one sandbox figure.
METRICS = {"views": "impressions", "cardClicks": "clicks", "subscribersGained": "conversions"}


class YouTubeApiError(GoogleApiError):
    """Google's error body with YouTube's `errors[]` list; an empty status is left out, as
    in the Data API's quotaExceeded."""

    def __init__(
        self,
        code: int,
        message: str,
        errors: Iterable[Mapping[str, str]],
        *,
        status: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(code, message, status=status, headers=headers)
        self.errors = list(errors)

    def response(self) -> JSONResponse:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        error["errors"] = self.errors
        if self.status:
            error["status"] = self.status
        return JSONResponse({"error": error}, status_code=self.code, headers=self.headers)


def _error(
    code: int, message: str, reason: str, domain: str = "global", **extra: Any
) -> GoogleApiError:
    item = {"message": message, "domain": domain, "reason": reason}
    return YouTubeApiError(code, message, [item], **extra)


def _refusal(request: Request, error: SandboxError) -> GoogleApiError:
    """A sandbox refusal as YouTube words it."""
    headers = fault_headers(error)
    analytics = "/youtubeanalytics/" in request.url.path
    if error.code in AUTH_CODES:
        where = {"location": "Authorization", "locationType": "header"}
        item = {"message": "Invalid Credentials", "domain": "global", "reason": "authError"}
        return YouTubeApiError(401, INVALID_CREDENTIALS, [item | where])
    if error.code in ("access_removed", "not_found"):
        return _error(403, "Forbidden", "forbidden")
    if error.code == "insufficient_scope":
        return _error(403, INSUFFICIENT_SCOPES, "insufficientPermissions")
    if error.code == "rate_limited" and analytics:
        return _error(429, ANALYTICS_QUOTA, "rateLimitExceeded", headers=headers)
    if error.code == "rate_limited":
        # The Data API's daily quota: a 403 that Google sends without a status.
        quota = {"status": "", "headers": headers}
        return _error(403, QUOTA_EXCEEDED, "quotaExceeded", "youtube.quota", **quota)
    if error.code == "unavailable":
        return _error(503, UNAVAILABLE, "backendError", headers=headers)
    if error.code == "invalid_request":
        return _error(400, error.message, "badRequest")
    return _error(500, "Internal error encountered.", "internalError")


router = APIRouter(route_class=google_route(_refusal))
Caller = Annotated[SandboxUser, Depends(google_caller("accounts", SCOPES[:1]))]
# The reports reference asks for youtube.readonly too, besides yt-analytics.readonly.
Reporter = Annotated[SandboxUser, Depends(google_caller("metrics", SCOPES))]


@router.get("/youtube/channels")
async def channels(
    request: Request,
    user: Caller,
    part: str = "",
    mine: bool = False,
    max_results: Annotated[int, Query(alias="maxResults")] = DEFAULT_RESULTS,
    page_token: Annotated[str, Query(alias="pageToken")] = "",
) -> dict[str, Any]:
    """The channels the user owns, a page at a time."""
    _check_listing(part, mine, max_results)
    state = sandbox_state(request)
    page, last = state.page_accounts(user.id, max_results or 1, decode_page_token(page_token))
    if not max_results:  # YouTube answers maxResults=0 with the totals alone
        page, last = [], None
    body: dict[str, Any] = {"kind": "youtube#channelListResponse", "etag": _etag(*page)}
    if last is not None:
        body["nextPageToken"] = encode_page_token(last)
    total = len(state.reachable_account_ids(user.id))
    body["pageInfo"] = {"totalResults": total, "resultsPerPage": max_results}
    body["items"] = [_channel(a, "snippet" in part.split(",")) for a in page]
    return body


def _check_listing(part: str, mine: bool, max_results: int) -> None:
    if not part:
        raise SandboxError("invalid_request", "Required parameter: part")
    if not mine:
        raise SandboxError(
            "invalid_request", "No filter selected. Expected one of: mine, id, forHandle."
        )
    if not 0 <= max_results <= MAX_RESULTS:
        raise SandboxError(
            "invalid_request", f"Invalid value for maxResults: must be 0 to {MAX_RESULTS}."
        )


def _channel(account: SandboxAccount, snippet: bool) -> dict[str, Any]:
    channel: dict[str, Any] = {"kind": "youtube#channel", "etag": _etag(account), "id": account.id}
    if snippet:
        handle = "".join(c for c in account.name.lower() if c.isalnum())
        channel["snippet"] = {
            "title": account.name,
            "description": "",
            "customUrl": f"@{handle}",
            "publishedAt": PUBLISHED_AT,
            "localized": {"title": account.name, "description": ""},
        }
    return channel


def _etag(*accounts: SandboxAccount) -> str:
    digest = hashlib.sha1("|".join(f"{a.id}:{a.name}" for a in accounts).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@router.get("/youtubeanalytics/v2/reports")
async def reports(
    request: Request,
    user: Reporter,
    ids: str = "",
    start_date: Annotated[str, Query(alias="startDate")] = "",
    end_date: Annotated[str, Query(alias="endDate")] = "",
    metrics: str = "",
    dimensions: str = "",
    sort: str = "",
) -> dict[str, Any]:
    """One channel's figures per day, as YouTube Analytics' result table."""
    state = sandbox_state(request)
    channel_id = _channel_id(ids, state.reachable_account_ids(user.id))
    account = state.account_for(user.id, channel_id)
    first, last = _day(start_date, "startDate"), _day(end_date, "endDate")
    if last < first:
        raise SandboxError("invalid_request", "The start date must not be after the end date.")
    names = _metrics(metrics)
    if dimensions != "day" or sort not in ("", "day"):
        raise SandboxError("invalid_request", NOT_SUPPORTED)
    headers = [{"name": "day", "columnType": "DIMENSION", "dataType": "STRING"}]
    headers += [{"name": n, "columnType": "METRIC", "dataType": "INTEGER"} for n in names]
    rows = [_row(account, day, names) for day in served(state, first, last)]
    return {"kind": "youtubeAnalytics#resultTable", "columnHeaders": headers, "rows": rows}


def _channel_id(ids: str, owned: list[str]) -> str:
    """`channel==<id>`, or `channel==MINE` for the user's first channel."""
    kind, _, value = ids.partition("==")
    if kind != "channel" or not value:
        raise SandboxError("invalid_request", "Invalid value for ids: expected channel==<id>.")
    if value != "MINE":
        return value
    if not owned:
        raise SandboxError("not_found", "The user has no channel.")
    return owned[0]


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SandboxError(
            "invalid_request", f"Invalid value for {field}: {value!r} (expected YYYY-MM-DD)."
        ) from None


def _metrics(metrics: str) -> list[str]:
    names = [n.strip() for n in metrics.split(",") if n.strip()]
    if not names:
        raise SandboxError("invalid_request", "Required parameter: metrics")
    for name in names:
        if name not in METRICS:
            raise SandboxError(
                "invalid_request",
                f"Unknown identifier ({name}) given in field parameters.metrics.",
            )
    return names


def _row(account: SandboxAccount, day: date, names: list[str]) -> list[Any]:
    figures = day_metrics(account, day)
    return [day.isoformat(), *(int(figures[METRICS[n]]) for n in names)]
