"""The sandbox speaking Meta: Facebook Login's dialog under `/www`, the Graph API under `/graph`.

At Meta's own paths (`/www/<version>/dialog/oauth`, `/graph/<version>/oauth/access_token`,
`/me`, `/me/adaccounts`, `/me/permissions`, `/act_<id>/insights`), in its shapes: cursor
paging (`data`, `paging.cursors`, `paging.next`), figures as strings, conversions inside
`actions`, and every error in Graph's envelope (`meta_graph.py`). The code gives a short-lived token
and no refresh token; `grant_type=fb_exchange_token` trades it for the 60-day one. The world is
the sandbox's own (users, accounts, grants, faults), so its switches make this dialect answer as
Meta would: expired 190/463, revoked 190/458, password changed 190/460, lost ad account 100/33,
down code 2, throttled 17/80004/80000 with `X-Business-Use-Case-Usage`. A user's sandbox API
key stands for a system user's token, which never expires.
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from tether.sandbox.dialects import meta_graph
from tether.sandbox.dialects.app import answered, dialect_app
from tether.sandbox.dialects.meta_graph import GraphError
from tether.sandbox.faults import (
    FaultError,
    apply_faults,
    count_call,
    sandbox_state,
)
from tether.sandbox.oauth import templates, with_query
from tether.sandbox.state import OAuthError, SandboxError, SandboxState, SandboxUser
from tether.sandbox.tokens import TokenRules

VERSION = re.compile(r"^v\d+\.\d+$")
# The code's token lives "an hour or two"; the exchange's lives what Meta answers.
SHORT_LIVED_SECONDS = 5400
SHORT_LIVED = TokenRules(SHORT_LIVED_SECONDS, refreshable=False)
LONG_LIVED_SECONDS = 5183944
DEFAULT_LIMIT = 25
MAX_LIMIT = 500
_FORM_ONLY = {"username", "password", "decision"}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
USER_FIELDS = ("id", "name", "email")
ACCOUNT_FIELDS = ("id", "account_id", "name", "currency", "account_status")

www = APIRouter(prefix="/www")
api = APIRouter(prefix="/graph")


def create_app(state: SandboxState) -> FastAPI:
    """Meta's dialect of the sandbox, over the sandbox's own world."""
    return dialect_app(
        "Meta",
        state,
        (www, api),
        {GraphError: answered, RequestValidationError: _invalid, HTTPException: _unknown_path},
    )


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    return GraphError(100, "(#100) Invalid parameter", kind="GraphMethodException").response()


async def _unknown_path(request: Request, exc: Exception) -> JSONResponse:
    path = request.url.path.removeprefix(request.scope.get("root_path", ""))
    return GraphError(2500, f"Unknown path components: {path}").response()


def _version(version: str) -> None:
    if not VERSION.match(version):
        raise GraphError(2500, f"Unknown path components: /{version}")


# -- Facebook Login's dialog ----------------------------------------------------------------


def _dialog_problem(state: SandboxState, params: Mapping[str, str]) -> str | None:
    """What makes redirecting unsafe: shown on the page instead."""
    if not state.client_known(params.get("client_id", "")):
        return "Invalid App ID: The provided app ID does not look like a valid app ID."
    if not params.get("redirect_uri"):
        return "URL Blocked: This redirect failed because the redirect URI is missing."
    return None


def _request_problem(params: Mapping[str, str]) -> str | None:
    """What is told back to the app through its redirect URI. PKCE is optional, as at Meta."""
    if params.get("response_type", "code") != "code":
        return "Only response_type=code is supported here."
    challenge = params.get("code_challenge")
    if challenge is not None and (
        params.get("code_challenge_method") != "S256" or not _CHALLENGE.match(challenge)
    ):
        return "code_challenge must be an S256 challenge (code_challenge_method=S256)."
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
        "client_id": params.get("client_id", ""),
        "scope": params.get("scope") or "public_profile",
        "hidden": [(k, v) for k, v in params.items() if k not in _FORM_ONLY],
        "error": error,
        "fatal": fatal,
        "username": params.get("username", ""),
    }
    headers = {**_NO_STORE, "X-Frame-Options": "DENY"}
    return templates.TemplateResponse(
        request, "meta_dialog.html", context, status_code=status, headers=headers
    )


def _back(params: Mapping[str, str], answer: Mapping[str, str | None]) -> RedirectResponse:
    # Meta ends every redirect of its dialog with this fragment.
    location = with_query(params["redirect_uri"], {**answer, "state": params.get("state")})
    return RedirectResponse(location + "#_=_", status_code=302, headers=_NO_STORE)


def _refused(params: Mapping[str, str], reason: str, description: str) -> RedirectResponse:
    return _back(
        params,
        {
            "error": "access_denied" if reason == "user_denied" else "invalid_request",
            "error_code": "200" if reason == "user_denied" else "100",
            "error_description": description,
            "error_reason": reason,
        },
    )


@www.get("/{version}/dialog/oauth", response_model=None)
async def dialog(request: Request, version: str) -> Response:
    """The login and permissions dialog."""
    _version(version)
    params = dict(request.query_params)
    fatal = _dialog_problem(sandbox_state(request), params)
    if fatal is not None:
        return _page(request, params, fatal=fatal, status=400)
    problem = _request_problem(params)
    if problem is not None:
        return _refused(params, "invalid_request", problem)
    return _page(request, params)


@www.post("/{version}/dialog/oauth", response_model=None)
async def dialog_answer(request: Request, version: str) -> Response:
    """The person's answer in the dialog."""
    _version(version)
    params = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    state = sandbox_state(request)
    fatal = _dialog_problem(state, params)
    if fatal is not None:
        return _page(request, params, fatal=fatal, status=400)
    problem = _request_problem(params)
    if problem is not None:
        return _refused(params, "invalid_request", problem)
    if params.get("decision") != "allow":
        return _refused(params, "user_denied", "Permissions error")
    user = state.authenticate(params.get("username", ""), params.get("password", ""))
    if user is None:
        return _page(request, params, error="The password that you've entered is incorrect.")
    code = state.issue_code(
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        code_challenge=params.get("code_challenge", ""),
        user_id=user.id,
        scope=params.get("scope") or "public_profile",
    )
    return _back(params, {"code": code})


# -- the token endpoint ---------------------------------------------------------------------


async def _params(request: Request) -> dict[str, str]:
    """Query and form parameters together: Graph takes either."""
    params = dict(request.query_params)
    if request.method == "POST":
        params |= {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    return params


def _client(state: SandboxState, params: Mapping[str, str]) -> str:
    client_id = params.get("client_id", "")
    if not state.client_known(client_id):
        raise GraphError(101, "Error validating application. Invalid application ID.")
    if not state.client_valid(client_id, params.get("client_secret", "")):
        raise GraphError(1, "Error validating client secret.")
    return client_id


@api.api_route("/{version}/oauth/access_token", methods=["GET", "POST"])
async def access_token(request: Request, version: str) -> JSONResponse:
    """A code for a short-lived token, or (`fb_exchange_token`) one for the 60-day token."""
    _version(version)
    params = await _params(request)
    state = sandbox_state(request)
    exchange = params.get("grant_type") == "fb_exchange_token"
    owner = (
        state.token_owner(params.get("fb_exchange_token", ""))
        if exchange
        else state.code_owner(params.get("code", ""))
    )
    count_call(request, "token_exchange", owner)
    await _faults(state, owner, "token", None)
    client_id = _client(state, params)
    if exchange:
        token, lifetime = _long_lived(state, client_id, params)
    else:
        token, lifetime = _short_lived(state, client_id, params)
    body = {"access_token": token, "token_type": "bearer", "expires_in": lifetime}
    return JSONResponse(body, headers=_NO_STORE)


def _short_lived(state: SandboxState, client_id: str, params: Mapping[str, str]) -> tuple[str, int]:
    if params.get("grant_type", "authorization_code") != "authorization_code":
        raise GraphError(100, f"Unsupported grant_type: {params['grant_type']}")
    if not params.get("code"):
        raise GraphError(100, "Missing authorization code")
    if not params.get("redirect_uri"):
        raise GraphError(100, "Missing redirect_uri parameter.")
    try:
        tokens = state.exchange_code(
            client_id=client_id,
            code=params["code"],
            redirect_uri=params["redirect_uri"],
            code_verifier=params.get("code_verifier"),
            rules=SHORT_LIVED,
        )
    except OAuthError as error:
        raise meta_graph.code_refused(error) from None
    return tokens.access_token, tokens.expires_in


def _long_lived(state: SandboxState, client_id: str, params: Mapping[str, str]) -> tuple[str, int]:
    token = params.get("fb_exchange_token")
    if not token:
        raise GraphError(100, "Missing fb_exchange_token parameter")
    try:
        tokens = state.exchange_access(
            client_id=client_id, access_token=token, lifetime=LONG_LIVED_SECONDS
        )
    except SandboxError as error:
        raise meta_graph.token_error(error) from None
    except OAuthError:
        raise GraphError(
            190, "Error validating access token: the token is of another app."
        ) from None
    return tokens.access_token, tokens.expires_in


# -- who calls, and the faults they meet ----------------------------------------------------


@dataclass(frozen=True)
class Caller:
    user: SandboxUser
    token: str
    # A system user's token (a sandbox API key): it never expires.
    system: bool


def _token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    return request.query_params.get("access_token")


def _identify(state: SandboxState, token: str | None) -> Caller:
    if not token:
        raise GraphError(104, "An access token is required to request this resource.")
    try:
        return Caller(state.user_for_access_token(token), token, system=False)
    except SandboxError as error:
        if error.code != "invalid_token":
            raise meta_graph.token_error(error) from None
    try:
        return Caller(state.user_for_api_key(token), token, system=True)
    except SandboxError:
        raise GraphError(190, "Invalid OAuth access token - Cannot parse access token") from None


async def _faults(
    state: SandboxState, username: str | None, kind: str, object_id: str | None
) -> None:
    try:
        await apply_faults(state, username)
    except FaultError as fault:
        raise meta_graph.fault_error(fault, kind, object_id) from None


def caller(kind: str) -> Callable[[Request], Awaitable[Caller]]:
    """Dependency of a route of `kind`: the caller, counted, after the faults they meet."""

    async def current(request: Request) -> Caller:
        state = sandbox_state(request)
        _version(request.path_params.get("version", ""))
        object_id = request.path_params.get("object_id")
        count_call(request, kind, None)
        try:
            found = _identify(state, _token(request))
        except GraphError:
            await _faults(state, None, kind, object_id)  # down or throttled says so first
            raise
        count_call(request, kind, found.user.username)
        await _faults(state, found.user.username, kind, object_id or graph_id(found.user))
        return found

    return current


def graph_id(user: SandboxUser) -> str:
    """A Facebook-like numeric id for a sandbox user, the same in every world."""
    digest = hashlib.sha256(user.id.encode()).hexdigest()
    return str(10**14 + int(digest[:12], 16) % (9 * 10**14))


def _fields(request: Request, known: tuple[str, ...], default: str, node: str) -> list[str]:
    wanted = [f.strip() for f in request.query_params.get("fields", default).split(",")]
    for field in wanted:
        if field and field not in known:
            raise GraphError(
                100,
                f"(#100) Tried accessing nonexisting field ({field}) on node type ({node})",
            )
    return [f for f in wanted if f]


def _limit(request: Request) -> int:
    try:
        limit = int(request.query_params.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise GraphError(100, "(#100) Param limit must be a number") from None
    return max(1, min(limit, MAX_LIMIT))


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _uncursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise GraphError(100, "(#100) The after cursor is not valid") from None


def _offset(cursor: str | None) -> int:
    text = _uncursor(cursor) if cursor else "0"
    if not text.isdigit():
        raise GraphError(100, "(#100) The after cursor is not valid")
    return int(text)


def _paging(request: Request, first: str, last: str, more: bool) -> dict[str, Any]:
    paging: dict[str, Any] = {"cursors": {"before": _cursor(first), "after": _cursor(last)}}
    if more:
        paging["next"] = str(request.url.include_query_params(after=_cursor(last)))
    return paging


# -- the Graph API --------------------------------------------------------------------------


@api.get("/{version}/me")
async def me(request: Request, who: Annotated[Caller, Depends(caller("me"))]) -> dict[str, str]:
    """The person (or system user) behind the token."""
    node = {"id": graph_id(who.user), "name": who.user.name, "email": who.user.email}
    return {f: node[f] for f in _fields(request, USER_FIELDS, "id,name", "User")}


@api.delete("/{version}/me/permissions")
async def remove_app(
    request: Request, who: Annotated[Caller, Depends(caller("revoke"))]
) -> dict[str, bool]:
    """The app removed from the person's settings: the grant is revoked (code 190/458 after)."""
    if not who.system:
        sandbox_state(request).revoke_access_token(who.token)
    return {"success": True}


@api.get("/{version}/me/adaccounts")
async def ad_accounts(
    request: Request, who: Annotated[Caller, Depends(caller("accounts"))]
) -> dict[str, Any]:
    """The ad accounts the person reaches, page by page."""
    fields = _fields(request, ACCOUNT_FIELDS, "id", "AdAccount")
    after = request.query_params.get("after")
    page, last = sandbox_state(request).page_accounts(
        who.user.id, _limit(request), _uncursor(after) if after else None
    )
    if not page:
        return {"data": []}
    nodes = [
        {
            "id": f"act_{a.id}",
            "account_id": a.id,
            "name": a.name,
            "currency": a.currency,
            "account_status": 1,
        }
        for a in page
    ]
    data = [{f: node[f] for f in fields} for node in nodes]
    return {"data": data, "paging": _paging(request, page[0].id, page[-1].id, last is not None)}


@api.get("/{version}/{object_id}/insights")
async def insights(
    request: Request, object_id: str, who: Annotated[Caller, Depends(caller("metrics"))]
) -> dict[str, Any]:
    """An ad account's Insights over a time range, per `time_increment` days."""
    state = sandbox_state(request)
    if not object_id.startswith("act_"):
        raise meta_graph.no_object(object_id)
    try:
        account = state.account_for(who.user.id, object_id.removeprefix("act_"))
    except SandboxError:
        raise meta_graph.no_object(object_id) from None
    fields = _fields(request, meta_graph.INSIGHTS_FIELDS, "impressions,spend", "AdsInsights")
    days = meta_graph.report_days(request.query_params, state.settings.history_days)
    increment = request.query_params.get("time_increment")
    rows = meta_graph.insights_rows(account, days, increment, fields)
    offset = _offset(request.query_params.get("after"))
    page = rows[offset : offset + _limit(request)]
    if not page:
        return {"data": []}
    last = offset + len(page)
    return {
        "data": page,
        "paging": _paging(request, str(offset), str(last), last < len(rows)),
    }
