"""The sandbox speaking Pinterest: the consent page under `/www`, API v5 under `/api`.

At Pinterest's own paths (`/www/oauth/`, `/api/v5/oauth/token`, `/api/v5/oauth/token/revoke`,
`/api/v5/user_account`, `/api/v5/ad_accounts`, `/api/v5/ad_accounts/<id>/analytics`), in its
shapes: `items` and `bookmark` paging, analytics as a list of rows with `DATE` and upper-case
columns, money in micros, and every refusal as `{"code", "message"}` (`pinterest_api.py`).

Grants follow Pinterest's continuous refresh: a 30-day access token and a 60-day refresh token
that every refresh replaces with a new one, 60 days fresh (`TokenRules`); `continuous_refresh`
is taken and every grant is continuous, as for an app made after 25 September 2025. The
sandbox's switches answer as Pinterest would: every dead access token (expired, revoked,
password changed) is 401 code 2 "Authentication failed." and every dead refresh token 401 code
283, because Pinterest says no more; a lost ad account is 403 code 29; down is 500 code 12;
throttled is 429 code 8 with `X-RateLimit-Reset`. Revoking a member's token is refused with
403 code 29: Pinterest revokes system users' tokens only.
"""

import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from tether.sandbox.dialects import pinterest_api
from tether.sandbox.dialects.app import answered, dialect_app
from tether.sandbox.dialects.pinterest_api import PinterestError
from tether.sandbox.faults import (
    FaultError,
    apply_faults,
    count_call,
    sandbox_state,
)
from tether.sandbox.oauth import (
    _CHALLENGE,
    _FORM_ONLY,
    _NO_STORE,
    _TOKEN_CALL_KINDS,
    _basic_credentials,
    _form,
    _token_caller,
    templates,
    with_query,
)
from tether.sandbox.state import OAuthError, SandboxError, SandboxState, SandboxUser, TokenSet
from tether.sandbox.tokens import TokenRules

ACCESS_SECONDS = 30 * 86400
REFRESH_SECONDS = 60 * 86400
CONTINUOUS = TokenRules(ACCESS_SECONDS, refresh_idle_seconds=REFRESH_SECONDS, rotate=True)
# What Pinterest's consent page says of the scopes it knows (OpenAPI `pinterest_oauth2`).
SCOPE_WORDS = {
    "ads:read": "See all of your advertising data, including ads, ad groups, campaigns etc.",
    "ads:write": "Create, update, or delete ads, ad groups, campaigns etc.",
    "boards:read": "See your public boards, including group boards you join",
    "boards:write": "Create, update, or delete your public boards",
    "catalogs:read": "See all of your catalogs data",
    "pins:read": "See your public Pins",
    "pins:write": "Create, update, or delete your public Pins",
    "user_accounts:read": "See your user accounts and followers",
}
_METHOD_NOT_ALLOWED = {
    "status": "failure",
    "code": 5,
    "data": "405 Method Not Allowed: The method is not allowed for the requested URL.",
    "message": "Method not allowed",
    "endpoint_name": None,
}

www = APIRouter(prefix="/www")
api = APIRouter(prefix="/api")


def create_app(state: SandboxState) -> FastAPI:
    """Pinterest's dialect of the sandbox, over the sandbox's own world."""
    return dialect_app(
        "Pinterest",
        state,
        (www, api),
        {PinterestError: answered, RequestValidationError: _invalid, HTTPException: _unknown_path},
    )


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    return pinterest_api.invalid("Invalid request: a parameter is missing or wrong.").response()


async def _unknown_path(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return JSONResponse(_METHOD_NOT_ALLOWED, status_code=405)
    return PinterestError(404, 404, "Resource not found.").response()


# -- the consent page (www.pinterest.com/oauth/) ---------------------------------------------


def _fatal(state: SandboxState, params: Mapping[str, str]) -> str | None:
    """What makes redirecting unsafe: shown on the page instead."""
    if not state.client_known(params.get("client_id", "")):
        return "This app is not available. Check the client_id and try again."
    if not params.get("redirect_uri"):
        return "The redirect_uri is missing."
    return None


def _problem(params: Mapping[str, str]) -> str | None:
    """What is told back to the app through its redirect URI; PKCE is checked when sent."""
    if params.get("response_type") != "code":
        return "response_type must be code."
    unknown = [s for s in _scopes(params.get("scope", "")) if s not in SCOPE_WORDS]
    if unknown:
        return f"Unknown scope: {', '.join(unknown)}."
    challenge = params.get("code_challenge")
    if challenge is not None and (
        params.get("code_challenge_method") != "S256" or not _CHALLENGE.match(challenge)
    ):
        return "code_challenge must be an S256 challenge (code_challenge_method=S256)."
    return None


def _scopes(scope: str) -> list[str]:
    return [s for s in scope.replace(" ", ",").split(",") if s]


def _page(
    request: Request,
    params: Mapping[str, str],
    *,
    error: str | None = None,
    fatal: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "action": request.url.path,
        "client_id": params.get("client_id", ""),
        "scopes": [SCOPE_WORDS.get(s, s) for s in _scopes(params.get("scope", ""))],
        "hidden": [(k, v) for k, v in params.items() if k not in _FORM_ONLY],
        "error": error,
        "fatal": fatal,
        "username": params.get("username", ""),
    }
    # A password form must not be framed by another site (clickjacking).
    headers = {**_NO_STORE, "X-Frame-Options": "DENY"}
    return templates.TemplateResponse(
        request, "pinterest_oauth.html", context, status_code=status, headers=headers
    )


def _back(params: Mapping[str, str], answer: Mapping[str, str | None]) -> RedirectResponse:
    location = with_query(params["redirect_uri"], {**answer, "state": params.get("state")})
    return RedirectResponse(location, status_code=302, headers=_NO_STORE)


def _refused(params: Mapping[str, str], error: str, description: str) -> RedirectResponse:
    return _back(params, {"error": error, "error_description": description})


def _checked(request: Request, params: Mapping[str, str]) -> Response | None:
    """The page or redirect that ends a request in error, if it is one."""
    fatal = _fatal(sandbox_state(request), params)
    if fatal is not None:
        return _page(request, params, fatal=fatal, status=400)
    problem = _problem(params)
    return _refused(params, "invalid_request", problem) if problem is not None else None


@www.get("/oauth/", response_model=None)
async def consent(request: Request) -> Response:
    """Pinterest's sign-in and "Give access" page."""
    params = dict(request.query_params)
    return _checked(request, params) or _page(request, params)


@www.post("/oauth/", response_model=None)
async def consent_answer(request: Request) -> Response:
    """The person's answer on the page."""
    params = await _form(request)
    ended = _checked(request, params)
    if ended is not None:
        return ended
    if params.get("decision") != "allow":
        return _refused(params, "access_denied", "The user declined access.")
    state = sandbox_state(request)
    user = state.authenticate(params.get("username", ""), params.get("password", ""))
    if user is None:
        return _page(request, params, error="The password you entered is incorrect.")
    code = state.issue_code(
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        code_challenge=params.get("code_challenge", ""),
        user_id=user.id,
        scope=params.get("scope", ""),
    )
    return _back(params, {"code": code})


# -- the token endpoint and revocation -------------------------------------------------------


def _client(request: Request) -> str:
    """The app, by HTTP Basic only (Pinterest's `basic` security); anything else is code 2."""
    try:
        credentials = _basic_credentials(request)
    except OAuthError:
        credentials = None
    if credentials is None or not sandbox_state(request).client_valid(*credentials):
        raise pinterest_api.authentication_failed()
    return credentials[0]


async def _faults(state: SandboxState, username: str | None) -> None:
    try:
        await apply_faults(state, username)
    except FaultError as fault:
        raise pinterest_api.fault_error(fault) from None


def _tokens(state: SandboxState, client_id: str, form: Mapping[str, str]) -> TokenSet:
    grant_type = form.get("grant_type", "")
    if form.get("continuous_refresh", "true") not in ("true", "false"):
        raise pinterest_api.invalid("Invalid request: continuous_refresh must be true or false.")
    if grant_type == "authorization_code":
        if not form.get("code") or not form.get("redirect_uri"):
            raise pinterest_api.invalid("Invalid request: code and redirect_uri are required.")
        return state.exchange_code(
            client_id=client_id,
            code=form["code"],
            redirect_uri=form["redirect_uri"],
            code_verifier=form.get("code_verifier"),
            rules=CONTINUOUS,
        )
    if grant_type == "refresh_token":
        if not form.get("refresh_token"):
            raise pinterest_api.invalid("Invalid request: refresh_token is required.")
        return state.refresh(client_id=client_id, refresh_token=form["refresh_token"])
    raise pinterest_api.invalid(f"Invalid request: grant_type {grant_type!r} is not supported.")


def _token_body(tokens: TokenSet, grant_type: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": tokens.access_token,
        "token_type": "bearer",
        "expires_in": tokens.expires_in,
        "scope": tokens.scope,
        "response_type": grant_type,
    }
    if tokens.refresh_token is not None and tokens.refresh_token_expires_in is not None:
        ends_in = tokens.refresh_token_expires_in
        body["refresh_token"] = tokens.refresh_token
        body["refresh_token_expires_in"] = ends_in
        body["refresh_token_expires_at"] = int(time.time()) + ends_in
    return body


@api.post("/v5/oauth/token")
async def token(request: Request) -> JSONResponse:
    """A code or a refresh token for tokens; every refresh hands out a new refresh token."""
    form = await _form(request)
    state = sandbox_state(request)
    grant_type = form.get("grant_type", "")
    username = _token_caller(state, grant_type, form)
    if grant_type in _TOKEN_CALL_KINDS:
        count_call(request, _TOKEN_CALL_KINDS[grant_type], username)
    await _faults(state, username)
    client_id = _client(request)
    try:
        tokens = _tokens(state, client_id, form)
    except OAuthError as error:
        raise pinterest_api.grant_refused(error) from None
    return JSONResponse(_token_body(tokens, grant_type), headers=_NO_STORE)


@api.post("/v5/oauth/token/revoke")
async def revoke(request: Request) -> Response:
    """Pinterest revokes tokens of system users only: a member's token is refused."""
    form = await _form(request)
    state = sandbox_state(request)
    count_call(request, "revoke", state.token_owner(form.get("token", "")))
    _client(request)
    if not form.get("token"):
        raise pinterest_api.invalid("Invalid request: token is required.")
    if state.token_owner(form["token"]) is not None:
        raise pinterest_api.not_permitted()
    return Response(status_code=200)


# -- who calls, and the faults they meet ----------------------------------------------------


@dataclass(frozen=True)
class Caller:
    user: SandboxUser
    scopes: frozenset[str]


def _identify(state: SandboxState, request: Request) -> Caller:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise pinterest_api.authentication_failed()
    try:
        user = state.user_for_access_token(token.strip())
    except SandboxError:
        raise pinterest_api.authentication_failed() from None
    scope = state.grant_holding(token.strip()).scope
    return Caller(user, frozenset(_scopes(scope)))


def caller(kind: str, scope: str) -> Callable[[Request], Awaitable[Caller]]:
    """Dependency of a route of `kind` that needs `scope`: the caller, counted, after the
    faults they meet."""

    async def current(request: Request) -> Caller:
        state = sandbox_state(request)
        count_call(request, kind, None)
        try:
            found = _identify(state, request)
        except PinterestError:
            await _faults(state, None)  # down or throttled says so first
            raise
        count_call(request, kind, found.user.username)
        await _faults(state, found.user.username)
        if scope not in found.scopes:
            raise pinterest_api.missing_scopes()
        return found

    return current


def pinterest_id(user: SandboxUser) -> str:
    """A Pinterest-like numeric id for a sandbox user, the same in every world."""
    digest = hashlib.sha256(f"pinterest:{user.id}".encode()).hexdigest()
    return str(10**17 + int(digest[:16], 16) % (9 * 10**17))


# -- API v5 ---------------------------------------------------------------------------------


@api.get("/v5/user_account")
async def user_account(
    who: Annotated[Caller, Depends(caller("me", "user_accounts:read"))],
) -> dict[str, Any]:
    """The Pinterest account behind the token."""
    return {
        "account_type": "BUSINESS",
        "id": pinterest_id(who.user),
        "username": who.user.username,
        "business_name": who.user.name,
        "profile_image": f"https://i.pinimg.com/600x600_R/{pinterest_id(who.user)}.jpg",
        "website_url": "",
    }


@api.get("/v5/ad_accounts")
async def ad_accounts(
    request: Request, who: Annotated[Caller, Depends(caller("accounts", "ads:read"))]
) -> dict[str, Any]:
    """The ad accounts the person owns or was given Business Access to, page by page."""
    params = request.query_params
    if params.get("include_shared_accounts", "true") not in ("true", "false"):
        raise pinterest_api.invalid("Invalid request: include_shared_accounts must be a boolean.")
    page, last = sandbox_state(request).page_accounts(
        who.user.id, pinterest_api.page_size(params), pinterest_api.after_of(params.get("bookmark"))
    )
    owner = {"username": who.user.username, "id": pinterest_id(who.user)}
    items = [
        {
            "id": a.id,
            "name": a.name,
            "owner": owner,
            "country": "US",
            "currency": a.currency,
            "permissions": ["OWNER"],
        }
        for a in page
    ]
    return {"items": items, "bookmark": pinterest_api.bookmark_of(last) if last else None}


@api.get("/v5/ad_accounts/{ad_account_id}/analytics")
async def analytics(
    request: Request,
    ad_account_id: str,
    who: Annotated[Caller, Depends(caller("metrics", "ads:read"))],
) -> list[dict[str, Any]]:
    """An ad account's figures per day over at most 90 days, none older than 90 days."""
    state = sandbox_state(request)
    if not ad_account_id.isdigit():
        raise PinterestError(400, 400, "Invalid ad account id")
    try:
        account = state.account_for(who.user.id, ad_account_id)
    except SandboxError as error:
        lost = error.code == "access_removed"
        raise pinterest_api.not_permitted() if lost else pinterest_api.not_found() from None
    columns = pinterest_api.columns_of(request.query_params)
    days = pinterest_api.report_days(request.query_params, state.settings.history_days)
    return pinterest_api.analytics_rows(account, days, columns)
