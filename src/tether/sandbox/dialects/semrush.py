"""The sandbox speaking Semrush: the units balance under `/www` (www.semrush.com), the Projects
and Position Tracking APIs under `/api` (api.semrush.com), a sandbox user's API key as the
subscription's `key`.

Each account a user reaches is one of their projects (its id the account's), with Position
Tracking set up, whose estimated organic traffic per day is the sandbox's clicks of that
account. Refusals are Semrush's text lines (`ERROR 120 :: WRONG KEY - ID PAIR` for a key that
is unknown or was replaced with `POST /control/users/<u>/api-key`, `ERROR 131 :: LIMIT
EXCEEDED` when throttled), with HTTP 200 as assumed in the adapter; a project the user lost
answers 403 in the Projects API's JSON error shape; down is a 503.
"""

import hashlib
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException

from tether.sandbox.dialects.app import answered, dialect_app
from tether.sandbox.faults import (
    FaultError,
    apply_faults,
    count_call,
    sandbox_state,
)
from tether.sandbox.metrics import day_metrics, served_days
from tether.sandbox.state import SandboxAccount, SandboxError, SandboxState, SandboxUser

UNITS_LEFT = "1,000"
router = APIRouter()


class SemrushError(Exception):
    """A refusal: Semrush's line of text, or (`status` 4xx/5xx with `json`) a JSON error."""

    def __init__(self, line: str, status: int = 200, *, json: dict[str, Any] | None = None):
        super().__init__(line)
        self.line, self.status, self.json = line, status, json

    def response(self) -> Response:
        if self.json is not None:
            return JSONResponse({"error": self.json}, status_code=self.status)
        return PlainTextResponse(self.line, status_code=self.status)


def create_app(state: SandboxState) -> FastAPI:
    """Semrush's dialect of the sandbox, over the sandbox's own world."""
    return dialect_app(
        "Semrush",
        state,
        (router,),
        {SemrushError: answered, RequestValidationError: _invalid, HTTPException: _unknown_path},
    )


async def _invalid(request: Request, exc: Exception) -> Response:
    return SemrushError("ERROR 40 :: WRONG PARAMETERS").response()


async def _unknown_path(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("Not Found", status_code=404)


async def _faults(state: SandboxState, username: str | None) -> None:
    try:
        await apply_faults(state, username)
    except FaultError as fault:
        if fault.code == "rate_limited":
            raise SemrushError("ERROR 131 :: LIMIT EXCEEDED") from None
        raise SemrushError("Service Temporarily Unavailable", 503) from None


def caller(kind: str) -> Callable[[Request], Awaitable[SandboxUser]]:
    """Dependency of a route of `kind`: the user whose `key` calls, after their faults."""

    async def current(request: Request) -> SandboxUser:
        state = sandbox_state(request)
        count_call(request, kind, None)
        key = request.query_params.get("key", "")
        if not key:
            await _faults(state, None)
            raise SemrushError("ERROR 122 :: WRONG FORMAT OR EMPTY KEY")
        try:
            user = state.user_for_api_key(key)
        except SandboxError:
            await _faults(state, None)  # down or throttled says so first
            raise SemrushError("ERROR 120 :: WRONG KEY - ID PAIR") from None
        count_call(request, kind, user.username)
        await _faults(state, user.username)
        return user

    return current


def owner_id(user: SandboxUser) -> int:
    """The user's Semrush id, the same in every world."""
    return 10**8 + int(hashlib.sha256(user.id.encode()).hexdigest()[:7], 16)


@router.get("/www/users/countapiunits.html", response_class=PlainTextResponse)
async def units(user: Annotated[SandboxUser, Depends(caller("me"))]) -> str:
    """The API units left: the sandbox never runs out."""
    return UNITS_LEFT


@router.get("/api/management/v1/projects")
async def projects(
    request: Request, user: Annotated[SandboxUser, Depends(caller("accounts"))]
) -> list[dict[str, Any]]:
    """The user's projects, each tracking positions."""
    if request.query_params.get("filter", "own") not in ("all", "own", "shared", "corporate"):
        raise SemrushError("ERROR 40 :: WRONG FILTER")
    state = sandbox_state(request)
    return [
        {
            "project_id": int(number) if number.isdigit() else number,
            "project_name": state.accounts[number].name,
            "url": f"site-{number}.example",
            "domain_unicode": f"site-{number}.example",
            "tools": [{"tool": "tracking"}, {"tool": "siteaudit"}],
            "owner_id": owner_id(user),
            "permission": ["OWNER"],
        }
        for number in state.reachable_account_ids(user.id)
    ]


def _day(request: Request, name: str) -> date:
    try:
        return datetime.strptime(request.query_params.get(name, ""), "%Y%m%d").date()
    except ValueError:
        raise SemrushError(f"ERROR 40 :: WRONG FORMAT OF {name.upper()}") from None


def _project(state: SandboxState, user: SandboxUser, project: str) -> SandboxAccount:
    try:
        return state.account_for(user.id, project)
    except SandboxError:
        denied = {"code": 403, "message": "Forbidden", "description": "Access to the project "
                  "is denied for this key."}  # fmt: skip
        raise SemrushError("", 403, json=denied) from None


@router.get("/api/reports/v1/projects/{project}/tracking/")
async def tracking(
    request: Request, project: str, user: Annotated[SandboxUser, Depends(caller("metrics"))]
) -> dict[str, Any]:
    """Position Tracking's visibility report: one entry per tracked day, or no data."""
    params = request.query_params
    if params.get("action") != "report" or params.get("type") != "tracking_visibility_organic":
        raise SemrushError("ERROR 40 :: THE SANDBOX ANSWERS type=tracking_visibility_organic")
    state = sandbox_state(request)
    account = _project(state, user, project)
    start, end = _day(request, "date_begin"), _day(request, "date_end")
    if end < start:
        raise SemrushError("ERROR 40 :: DATE_END IS BEFORE DATE_BEGIN")
    days = served_days(start, end, state.settings.history_days)
    if not days:
        raise SemrushError("ERROR 50 :: NOTHING FOUND")
    data = {str(n): _entry(account, day) for n, day in enumerate(days)}
    return {"total": str(len(days)), "state": "0", "data": data}


def visits(account: SandboxAccount, day: date) -> int:
    """A project's estimated organic traffic on a day: the sandbox's clicks of its account."""
    return int(day_metrics(account, day)["clicks"])


def _entry(account: SandboxAccount, day: date) -> dict[str, Any]:
    figures = day_metrics(account, day)
    traffic = visits(account, day)
    impressions = max(1, int(figures["impressions"]))
    return {
        "Dt": f"{day:%Y%m%d}",
        "Vi": impressions * 100,
        "Vr": round(100 * traffic / impressions, 4),
        "Av": round(1 + 30 * (1 - traffic / impressions), 3),
        "Sov": round(100 * traffic / impressions, 2),
        "Tr": float(traffic),
        "Tc": float(figures["spend"]),
    }
