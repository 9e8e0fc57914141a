"""The sandbox speaking TikTok: the API for Business under `/business`, one base for one host.

At TikTok's own paths (`/portal/auth`, `/open_api/v1.3/oauth2/access_token/`,
`/oauth2/revoke_token/`, `/oauth2/advertiser/get/`, `/advertiser/info/`, `/user/info/`,
`/report/integrated/get/`, each with its trailing slash), in its shapes: the token in an
`Access-Token` header, the app's `app_id` and `secret` where TikTok asks for them, lists under
`data.list` with `page_info`, figures as strings, and every answer (errors included) HTTP 200
in TikTok's envelope (`tiktok_api.py`). The auth code gives a long-term token with no expiry
and no refresh token. The world is the sandbox's own, so its switches make this dialect answer
as TikTok would: expired 40102, revoked (and password changed: TikTok cannot tell them apart)
40105, lost advertiser 40001, down 50000, throttled 40100 (app) or 40133 (advertiser), with no
rate-limit header. An unknown path is a plain 404, as TikTok's gateway answers one.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from tether.sandbox.dialects import tiktok_api
from tether.sandbox.dialects.app import answered, dialect_app
from tether.sandbox.dialects.tiktok_api import TikTokError, ok
from tether.sandbox.faults import (
    FaultError,
    apply_faults,
    count_call,
    sandbox_state,
)
from tether.sandbox.oauth import templates, with_query
from tether.sandbox.state import OAuthError, SandboxError, SandboxState, SandboxUser
from tether.sandbox.tokens import TokenRules

VERSION = "v1.3"
# A long-term token has no timer: it lives until revoked (a century stands for "never").
LONG_TERM = TokenRules(100 * 365 * 86400, refreshable=False)
# What the app's permissions are called on the page, and their ids in the token answer.
PERMISSIONS = {100: "Read Ad Account Information", 44: "Reporting: Consolidated Report"}
_FORM_ONLY = {"username", "password", "decision"}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

portal = APIRouter(prefix="/business/portal")
api = APIRouter(prefix="/business/open_api/{version}")


def create_app(state: SandboxState) -> FastAPI:
    """TikTok's dialect of the sandbox, over the sandbox's own world."""
    # TikTok's paths end with a slash, and one without it is not found: no redirect.
    return dialect_app(
        "TikTok",
        state,
        (portal, api),
        {TikTokError: answered, RequestValidationError: _invalid, HTTPException: _gateway},
        redirect_slashes=False,
    )


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    return tiktok_api.parameter_error("The parameters provided are invalid.").response()


async def _gateway(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    text = {404: "404 page not found", 405: "405 method not allowed"}
    status = exc.status_code if exc.status_code in text else 404
    return PlainTextResponse(text[status], status_code=status)


def _version(version: str) -> None:
    if version != VERSION:
        raise TikTokError(40051, f"Invalid API version: {version}.")


# -- the advertiser authorization page ------------------------------------------------------


def _portal_problem(state: SandboxState, params: Mapping[str, str]) -> str | None:
    """What makes sending the advertiser back unsafe: shown on the page instead."""
    if not state.client_known(params.get("app_id", "")):
        return "The app has been blocked or does not exist."
    if not params.get("redirect_uri"):
        return "The redirect_uri is missing."
    return None


def _page(
    request: Request,
    params: Mapping[str, str],
    *,
    error: str | None = None,
    fatal: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "app_id": params.get("app_id", ""),
        "permissions": list(PERMISSIONS.values()),
        "hidden": [(k, v) for k, v in params.items() if k not in _FORM_ONLY],
        "error": error,
        "fatal": fatal,
        "username": params.get("username", ""),
    }
    headers = {**_NO_STORE, "X-Frame-Options": "DENY"}
    return templates.TemplateResponse(
        request, "tiktok_auth.html", context, status_code=status, headers=headers
    )


def _back(params: Mapping[str, str], answer: Mapping[str, str | None]) -> RedirectResponse:
    location = with_query(params["redirect_uri"], {**answer, "state": params.get("state")})
    return RedirectResponse(location, status_code=302, headers=_NO_STORE)


@portal.get("/auth", response_model=None)
async def authorize(request: Request) -> Response:
    """The advertiser authorization page."""
    params = dict(request.query_params)
    fatal = _portal_problem(sandbox_state(request), params)
    if fatal is not None:
        return _page(request, params, fatal=fatal, status=400)
    return _page(request, params)


@portal.post("/auth", response_model=None)
async def authorize_answer(request: Request) -> Response:
    """The advertiser's answer: back to the app with an auth_code (sent as `code` too)."""
    params = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    state = sandbox_state(request)
    fatal = _portal_problem(state, params)
    if fatal is not None:
        return _page(request, params, fatal=fatal, status=400)
    if params.get("decision") != "allow":
        return _back(params, {})  # no code: the app learns nothing was authorized
    user = state.authenticate(params.get("username", ""), params.get("password", ""))
    if user is None:
        return _page(request, params, error="Incorrect account or password.")
    # TikTok binds the code to the app, not to a redirect URI, and has no PKCE.
    code = state.issue_code(
        client_id=params["app_id"],
        redirect_uri="",
        code_challenge="",
        user_id=user.id,
        scope=",".join(map(str, PERMISSIONS)),
    )
    return _back(params, {"auth_code": code, "code": code})


# -- the token endpoints --------------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise tiktok_api.parameter_error("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise tiktok_api.parameter_error("The request body is not valid JSON.")
    return body


def _app(state: SandboxState, params: Mapping[str, Any]) -> str:
    """The app named by `app_id` and proven by `secret`."""
    for name in ("app_id", "secret"):
        if not params.get(name):
            raise tiktok_api.missing(name)
    app_id = str(params["app_id"])
    if not state.client_valid(app_id, str(params["secret"])):
        raise TikTokError(40101, "Invalid app_id or secret.")
    return app_id


async def _faults(state: SandboxState, username: str | None, advertiser_id: str | None) -> None:
    try:
        await apply_faults(state, username)
    except FaultError as fault:
        raise tiktok_api.fault_error(fault, advertiser_id) from None


@api.post("/oauth2/access_token/")
async def access_token(request: Request, version: str) -> dict[str, Any]:
    """An auth_code for a long-term token and the advertisers it reaches."""
    _version(version)
    body = await _body(request)
    state = sandbox_state(request)
    owner = state.code_owner(str(body.get("auth_code", "")))
    count_call(request, "token_exchange", owner)
    await _faults(state, owner, None)
    app_id = _app(state, body)
    if not body.get("auth_code"):
        raise tiktok_api.missing("auth_code")
    try:
        tokens = state.exchange_code(
            client_id=app_id,
            code=str(body["auth_code"]),
            redirect_uri="",
            code_verifier=None,
            rules=LONG_TERM,
        )
    except OAuthError as error:
        raise tiktok_api.code_refused(error) from None
    assert owner is not None  # a code that was just exchanged is known
    reached = state.reachable_account_ids(state.user(owner).id)
    data = {"access_token": tokens.access_token, "advertiser_ids": reached}
    return ok(data | {"scope": list(PERMISSIONS)})


@api.post("/oauth2/revoke_token/")
async def revoke_token(request: Request, version: str) -> dict[str, Any]:
    """The app gives up a long-term token: every call with it answers 40105 after."""
    _version(version)
    body = await _body(request)
    state = sandbox_state(request)
    token = str(body.get("access_token") or "")
    count_call(request, "revoke", state.token_owner(token))
    app_id = _app(state, body)
    if not token:
        raise tiktok_api.missing("access_token")
    user = _user_of(state, token)
    if state.grant_holding(token).client_id != app_id:
        raise TikTokError(40113, tiktok_api.APP_MISMATCH)
    state.revoke_access_token(token)
    return ok({"app_id": app_id, "advertiser_ids": state.reachable_account_ids(user.id)})


# -- who calls, and the faults they meet ----------------------------------------------------


@dataclass(frozen=True)
class Caller:
    user: SandboxUser
    token: str


def _user_of(state: SandboxState, token: str) -> SandboxUser:
    try:
        return state.user_for_access_token(token)
    except SandboxError as error:
        raise tiktok_api.token_error(error) from None


def _identify(state: SandboxState, token: str | None) -> Caller:
    if not token:
        raise TikTokError(40104, tiktok_api.NO_TOKEN)
    return Caller(_user_of(state, token), token)


def caller(kind: str) -> Callable[[Request], Awaitable[Caller]]:
    """Dependency of a route of `kind`: the caller, counted, after the faults they meet. A call
    about one advertiser meets that advertiser's throttle; the others, the app's."""

    async def current(request: Request) -> Caller:
        state = sandbox_state(request)
        _version(request.path_params.get("version", ""))
        advertiser_id = request.query_params.get("advertiser_id") if kind == "metrics" else None
        count_call(request, kind, None)
        try:
            found = _identify(state, request.headers.get("access-token"))
        except TikTokError:
            await _faults(state, None, advertiser_id)  # down or throttled says so first
            raise
        count_call(request, kind, found.user.username)
        await _faults(state, found.user.username, advertiser_id)
        return found

    return current


# -- the API --------------------------------------------------------------------------------


@api.get("/user/info/")
async def user_info(who: Annotated[Caller, Depends(caller("me"))]) -> dict[str, Any]:
    """The TikTok for Business user behind the token."""
    user = who.user
    return ok(
        {
            "core_user_id": core_user_id(user),
            "display_name": user.name,
            "email": user.email,
            "avatar_url": "",
            "create_time": 1577836800,
        }
    )


def core_user_id(user: SandboxUser) -> str:
    """A TikTok-like numeric user id for a sandbox user, the same in every world."""
    digest = hashlib.sha256(user.id.encode()).hexdigest()
    return str(7 * 10**18 + int(digest[:15], 16) % 10**18)


@api.get("/oauth2/advertiser/get/")
async def advertisers(
    request: Request, who: Annotated[Caller, Depends(caller("accounts"))]
) -> dict[str, Any]:
    """Every advertiser the token reaches, in one list (this endpoint has no paging)."""
    state = sandbox_state(request)
    app_id = _app(state, request.query_params)
    if state.grant_holding(who.token).client_id != app_id:
        raise TikTokError(40113, tiktok_api.APP_MISMATCH)
    reached = [state.accounts[i] for i in state.reachable_account_ids(who.user.id)]
    return ok({"list": [{"advertiser_id": a.id, "advertiser_name": a.name} for a in reached]})


@api.get("/advertiser/info/")
async def advertiser_info(
    request: Request, who: Annotated[Caller, Depends(caller("accounts"))]
) -> dict[str, Any]:
    """Details of up to 100 advertisers the token reaches."""
    ids = tiktok_api.json_list(request.query_params, "advertiser_ids")
    if not ids:
        raise tiktok_api.missing("advertiser_ids")
    if len(ids) > tiktok_api.MAX_ADVERTISER_IDS:
        raise TikTokError(40011, "Too many advertiser_ids: at most 100 at once.")
    fields = tiktok_api.json_list(request.query_params, "fields")
    unknown = [f for f in fields if f not in tiktok_api.ADVERTISER_FIELDS]
    if unknown:
        raise tiktok_api.parameter_error(f"fields: Invalid field(s): {', '.join(unknown)}.")
    state = sandbox_state(request)
    found = [tiktok_api.advertiser(_advertiser(state, who, i), fields) for i in ids]
    return ok({"list": found})


def _advertiser(state: SandboxState, who: Caller, advertiser_id: str) -> Any:
    try:
        return state.account_for(who.user.id, advertiser_id)
    except SandboxError:
        raise tiktok_api.no_permission(advertiser_id) from None


@api.get("/report/integrated/get/")
async def report(
    request: Request, who: Annotated[Caller, Depends(caller("metrics"))]
) -> dict[str, Any]:
    """A synchronous basic report of one advertiser, per day, page by page."""
    params = request.query_params
    if not params.get("advertiser_id"):
        raise tiktok_api.missing("advertiser_id")
    dimensions, metrics = tiktok_api.check_report(params)
    page = tiktok_api.whole(params, "page", 1, 10**6)
    size = tiktok_api.whole(
        params, "page_size", tiktok_api.DEFAULT_PAGE_SIZE, tiktok_api.MAX_PAGE_SIZE
    )
    state = sandbox_state(request)
    days = tiktok_api.report_days(params, state.settings.history_days)
    account = _advertiser(state, who, params["advertiser_id"])
    rows = tiktok_api.report_rows(account, days, dimensions, metrics)
    return ok(tiktok_api.page_of(rows, page, size))
