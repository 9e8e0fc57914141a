"""The sandbox speaking CallRail (`api.callrail.com`, under `/api`): API v3 at its own paths,
in its shapes, with a sandbox user's API key as the CallRail key.

Each sandbox user is one CallRail account (`ACC…`) whose companies (`COM<id>`) are the
accounts the user reaches; a company's calls per day are the sandbox's conversions of that
account. Offset paging (`page`, `per_page`, `total_pages`), the time series' every day with
zeros, its 200-point and 25-month limits, and every error as `{"error": "…"}`: 401 for a key
that is unknown or was replaced (`POST /control/users/<u>/api-key`), 403 for a company the
user lost, 429 without Retry-After when throttled (CallRail documents none), 503 when down.
"""

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tether.sandbox.dialects.app import answered, dialect_app
from tether.sandbox.faults import (
    FaultError,
    apply_faults,
    count_call,
    sandbox_state,
)
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import SandboxAccount, SandboxError, SandboxState, SandboxUser

MAX_PER_PAGE = 250
MAX_POINTS = 200
RETENTION_DAYS = 25 * 30
ACCESS_DENIED = "HTTP Token: Access denied."
MAINTENANCE = "The CallRail API is temporarily offline for maintenance. Please try again later."

api = APIRouter(prefix="/api/v3")


class CallRailError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.message}, status_code=self.status)


def create_app(state: SandboxState) -> FastAPI:
    """CallRail's dialect of the sandbox, over the sandbox's own world."""
    return dialect_app(
        "CallRail",
        state,
        (api,),
        {CallRailError: answered, RequestValidationError: _invalid, HTTPException: _unknown_path},
    )


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    return CallRailError(400, "The request's parameters are not valid.").response()


async def _unknown_path(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    words = "Not found" if exc.status_code == 404 else "Method not allowed"
    return CallRailError(exc.status_code, words).response()


def _key(request: Request) -> str:
    """The key of `Authorization: Token token="…"` (quoted or not), as Rails reads it."""
    scheme, _, rest = request.headers.get("authorization", "").partition(" ")
    name, _, value = rest.partition("=")
    if scheme != "Token" or name.strip() != "token" or not value.strip().strip('"'):
        raise CallRailError(401, ACCESS_DENIED)
    return value.strip().strip('"')


async def _faults(state: SandboxState, username: str | None) -> None:
    try:
        await apply_faults(state, username)
    except FaultError as fault:
        if fault.code == "rate_limited":
            raise CallRailError(429, "Too many requests. Rate limit exceeded.") from None
        raise CallRailError(503, MAINTENANCE) from None


def caller(kind: str) -> Callable[[Request], Awaitable[SandboxUser]]:
    """Dependency of a route of `kind`: the user whose key calls, after their faults."""

    async def current(request: Request) -> SandboxUser:
        state = sandbox_state(request)
        count_call(request, kind, None)
        try:
            user = state.user_for_api_key(_key(request))
        except (SandboxError, CallRailError):
            await _faults(state, None)  # down or throttled says so first
            raise CallRailError(401, ACCESS_DENIED) from None
        count_call(request, kind, user.username)
        await _faults(state, user.username)
        return user

    return current


def account_id(user: SandboxUser) -> str:
    """The user's CallRail account id, the same in every world."""
    return "ACC" + hashlib.sha256(user.id.encode()).hexdigest()[:32]


def _page(request: Request, items: list[Any], name: str) -> dict[str, Any]:
    try:
        page = int(request.query_params.get("page", "1"))
        per_page = int(request.query_params.get("per_page", "100"))
    except ValueError:
        raise CallRailError(400, "page and per_page must be numbers.") from None
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise CallRailError(400, f"per_page must be between 1 and {MAX_PER_PAGE}.")
    pages = max(1, -(-len(items) // per_page))
    chosen = items[(page - 1) * per_page : page * per_page]
    return {
        "page": page,
        "per_page": per_page,
        "total_pages": pages,
        "total_records": len(items),
        name: chosen,
    }


def calls(company: SandboxAccount, day: date) -> int:
    """A company's calls on a day: the sandbox's conversions of its account."""
    return int(day_metrics(company, day)["conversions"])


def _account(user: SandboxUser, wanted: str) -> None:
    if wanted != account_id(user):
        raise CallRailError(404, "Account not found")


@api.get("/a.json")
async def accounts(
    request: Request, user: Annotated[SandboxUser, Depends(caller("me"))]
) -> dict[str, Any]:
    """The CallRail accounts the key reaches: the user's one."""
    account = {
        "id": account_id(user),
        "name": f"{user.name} (agency)",
        "outbound_recording_enabled": True,
        "hipaa_account": False,
    }
    return _page(request, [account], "accounts")


@api.get("/a/{account}/companies.json")
async def companies(
    request: Request, account: str, user: Annotated[SandboxUser, Depends(caller("accounts"))]
) -> dict[str, Any]:
    """The account's companies: one per sandbox account the user reaches."""
    _account(user, account)
    state = sandbox_state(request)
    found = [
        {
            "id": f"COM{number}",
            "name": state.accounts[number].name,
            "status": "active",
            "time_zone": "Etc/UTC",
        }
        for number in state.reachable_account_ids(user.id)
    ]
    return _page(request, found, "companies")


def _day(request: Request, name: str) -> date:
    raw = request.query_params.get(name)
    try:
        return date.fromisoformat(raw or "")
    except ValueError:
        raise CallRailError(400, f"{name} must be a date like 2016-10-17.") from None


def _company(request: Request, user: SandboxUser) -> SandboxAccount:
    wanted = request.query_params.get("company_id", "")
    try:
        return sandbox_state(request).account_for(user.id, wanted.removeprefix("COM"))
    except SandboxError:
        raise CallRailError(403, "You do not have access to this company.") from None


@api.get("/a/{account}/calls/timeseries.json")
async def timeseries(
    request: Request, account: str, user: Annotated[SandboxUser, Depends(caller("metrics"))]
) -> dict[str, Any]:
    """A company's calls per day, every day of the range (zeros too), in UTC."""
    _account(user, account)
    if request.query_params.get("interval", "day") != "day":
        raise CallRailError(400, "The sandbox answers interval=day only.")
    company = _company(request, user)
    start, end = _day(request, "start_date"), _day(request, "end_date")
    today = datetime.now(UTC).date()
    if end < start:
        raise CallRailError(400, "end_date must not be before start_date.")
    if start < today - timedelta(days=RETENTION_DAYS):
        raise CallRailError(
            400, "Records are kept 25 months: revise your date range to the retention period."
        )
    days = [start + timedelta(days=n) for n in range((min(end, today) - start).days + 1)]
    if len(days) > MAX_POINTS:
        raise CallRailError(400, f"A time series holds at most {MAX_POINTS} data points.")
    data = [{"date": d.isoformat(), "total_calls": calls(company, d)} for d in days]
    return {
        "start_date": f"{start.isoformat()}T00:00:00-0000",
        "end_date": f"{end.isoformat()}T23:59:59-0000",
        "time_zone": "UTC",
        "total_results": {"total_calls": sum(row["total_calls"] for row in data)},
        "data": data,
    }
