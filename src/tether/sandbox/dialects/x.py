"""The sandbox speaking X: OAuth 1.0a and the member's identity under `/api` (api.x.com), the
Ads API under `/ads` (ads-api.x.com), the stats jobs' result files under `/ton` (ton.twimg.com).

At X's own paths (`/api/oauth/request_token`, `/api/oauth/authorize`, `/api/oauth/access_token`,
`/api/1.1/oauth/invalidate_token`, `/api/1.1/account/verify_credentials.json`,
`/ads/12/accounts`, `/ads/12/accounts/{id}` and its `funding_instruments`,
`/ads/12/stats/accounts/{id}/active_entities`, `/ads/12/stats/jobs/accounts/{id}`), in its
shapes (`x_api.py`, `x_stats.py`, `x_jobs.py`): form-encoded token answers, every call signed
with HMAC-SHA1 and checked (`x_auth.py`), cursor paging, base-36 ids, each account's time zone,
campaign figures per day in arrays with `null` for none, spend in micros, and X's error envelope.
Grants follow X's token rules whatever the sandbox's settings say: an access token and its
secret that never expire and are never refreshed.

The sandbox's switches make it answer as X would: any token it no longer accepts is 401 code 89
"Invalid or expired token." (a revocation, the "expired" switch and a password change alike: X
cannot tell them apart); a lost ad account is 403 `ACCOUNT_NOT_FOUND`; down is 500 (code 131 at
api.x.com, `INTERNAL_ERROR` at the Ads API); throttled is 429 (88, `TOO_MANY_REQUESTS`) with
`x-rate-limit-*` headers, and `x-account-rate-limit-*` on an account's paths, the reset an
epoch. Words X's docs do not give (an account not found, a bad parameter) are the sandbox's own.
"""

from collections.abc import Mapping
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from tether.sandbox.dialects import x_jobs  # noqa: F401  (its routes join `ads`)
from tether.sandbox.dialects.app import answered, dialect_app
from tether.sandbox.dialects.x_api import Auth, Caller, ads, api, auth_of, caller, user_id
from tether.sandbox.dialects.x_auth import (
    Nonces,
    RequestToken,
    RequestTokens,
    XError,
    bad_authentication,
    check,
    not_authenticated,
    refused_as_text,
    signed,
)
from tether.sandbox.dialects.x_jobs import Jobs, ton
from tether.sandbox.faults import (
    FaultError,
    apply_faults,
    count_call,
    sandbox_state,
)
from tether.sandbox.oauth import _FORM_ONLY, _NO_STORE, _form, templates, with_query
from tether.sandbox.state import OAuthError, SandboxState
from tether.sandbox.tokens import TokenRules

# "These tokens do not expire": a hundred years stands for never.
NEVER = 100 * 365 * 86400
RULES = TokenRules(NEVER, refreshable=False)
SCOPE = "read"
INVALID_REQUEST_TOKEN = "Invalid request token."
INVALID_VERIFIER = "Error processing your OAuth request: Invalid oauth_verifier parameter"
USED_TOKEN = (
    "This page is no longer valid. It looks like someone already used the token information "
    "you provided."
)
FORM = "application/x-www-form-urlencoded"


def create_app(state: SandboxState) -> FastAPI:
    """X's dialect of the sandbox, over the sandbox's own world."""
    app = dialect_app(
        "X",
        state,
        (oauth, revocation, api, ads, ton),
        {XError: answered, RequestValidationError: _invalid, HTTPException: _unknown_path},
    )
    app.state.x_auth = Auth(Nonces(), RequestTokens())
    app.state.x_jobs = Jobs()
    return app


def _in_ads(request: Request) -> bool:
    path = request.url.path.removeprefix(request.scope.get("root_path", ""))
    return path.startswith("/ads/")


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    return XError(400, "INVALID_PARAMETER", "The request's parameters are not valid.").response()


async def _unknown_path(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if not _in_ads(request):
        return XError(404, 34, "Sorry, that page does not exist.").response()
    if exc.status_code == 405:
        return XError(405, "METHOD_NOT_ALLOWED", "The method is not allowed").response()
    return XError(404, "ROUTE_NOT_FOUND", "The requested resource could not be found").response()


async def _faults(state: SandboxState, username: str | None) -> None:
    """api.x.com's answer to a sandbox switch (the Ads API's is in `x_api.fault_error`)."""
    try:
        await apply_faults(state, username)
    except FaultError as fault:
        if fault.code != "rate_limited":
            raise XError(500, 131, "Internal error") from None
        raise XError(429, 88, "Rate limit exceeded") from None


# -- OAuth 1.0a -----------------------------------------------------------------------------

oauth = APIRouter(prefix="/api/oauth")


@oauth.post("/request_token")
async def request_token(request: Request) -> Response:
    """Step 1: the app, signed with its consumer secret alone, names its callback and gets a
    request token and its secret."""
    state = sandbox_state(request)
    await _faults(state, None)
    call = await signed(request)
    if not state.client_known(call.consumer_key):
        raise not_authenticated()
    check(call, state.clients[call.consumer_key], None, auth_of(request).nonces)
    callback = call.oauth.get("oauth_callback", "")
    if not callback.startswith(("http://", "https://")):
        raise bad_authentication()
    issued = auth_of(request).requests.issue(call.consumer_key, callback)
    answer = {
        "oauth_token": issued.token,
        "oauth_token_secret": issued.secret,
        "oauth_callback_confirmed": "true",
    }
    return Response(urlencode(answer), media_type=FORM, headers=_NO_STORE)


def _page(
    request: Request,
    params: Mapping[str, str],
    *,
    app: str = "",
    error: str | None = None,
    fatal: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "app": app,
        "hidden": [(k, v) for k, v in params.items() if k not in _FORM_ONLY],
        "error": error,
        "fatal": fatal,
        "username": params.get("username", ""),
    }
    headers = {**_NO_STORE, "X-Frame-Options": "DENY"}
    return templates.TemplateResponse(
        request, "x_authorize.html", context, status_code=status, headers=headers
    )


def _waiting(request: Request, params: Mapping[str, str]) -> RequestToken | None:
    token = params.get("oauth_token", "")
    return auth_of(request).requests.waiting(token) if token else None


@oauth.get("/authorize", response_model=None)
async def authorize(request: Request) -> Response:
    """Step 2: the member signs in and decides, for the app the request token was issued to."""
    params = {"oauth_token": request.query_params.get("oauth_token", "")}
    waiting = _waiting(request, params)
    if waiting is None:
        return _page(request, params, fatal=USED_TOKEN, status=400)
    return _page(request, params, app=waiting.client_id)


@oauth.post("/authorize", response_model=None)
async def authorize_answer(request: Request) -> Response:
    """The member's answer: back to the callback with a verifier, or with `denied`."""
    params = await _form(request)
    waiting = _waiting(request, params)
    if waiting is None:
        return _page(request, params, fatal=USED_TOKEN, status=400)
    if params.get("decision") != "allow":
        auth_of(request).requests.spend(waiting.token)
        return _back(waiting.callback, {"denied": waiting.token})
    state = sandbox_state(request)
    user = state.authenticate(params.get("username", ""), params.get("password", ""))
    if user is None:
        error = "The username and password you entered did not match our records."
        return _page(request, params, app=waiting.client_id, error=error)
    waiting.verifier = state.issue_code(
        client_id=waiting.client_id,
        redirect_uri=waiting.callback,
        code_challenge="",
        user_id=user.id,
        scope=SCOPE,
    )
    return _back(
        waiting.callback, {"oauth_token": waiting.token, "oauth_verifier": waiting.verifier}
    )


def _back(callback: str, answer: Mapping[str, str]) -> RedirectResponse:
    return RedirectResponse(with_query(callback, answer), status_code=302, headers=_NO_STORE)


@oauth.post("/access_token")
async def access_token(request: Request) -> Response:
    """Step 3: the request token (signed with its secret) and the verifier for an access token
    and its secret, and who the member is. A request token serves once, whatever happens."""
    state = sandbox_state(request)
    call = await signed(request)
    waiting = auth_of(request).requests.waiting(call.token or "")
    owner = state.code_owner(waiting.verifier) if waiting and waiting.verifier else None
    count_call(request, "token_exchange", owner)
    await _faults(state, owner)
    if waiting is None or waiting.client_id != call.consumer_key:
        return refused_as_text(401, INVALID_REQUEST_TOKEN)
    check(call, state.clients[call.consumer_key], waiting.secret, auth_of(request).nonces)
    auth_of(request).requests.spend(waiting.token)
    verifier = call.oauth.get("oauth_verifier") or (await _form(request)).get("oauth_verifier")
    if not waiting.verifier or verifier != waiting.verifier:
        return refused_as_text(401, INVALID_VERIFIER)
    try:
        tokens = state.exchange_code(
            client_id=call.consumer_key,
            code=verifier,
            redirect_uri=waiting.callback,
            code_verifier=None,
            rules=RULES,
        )
    except OAuthError:
        return refused_as_text(401, INVALID_REQUEST_TOKEN)
    user = state.users[state.grant(tokens.grant_id).user_id]
    answer = {
        "oauth_token": tokens.access_token,
        "oauth_token_secret": state.sign_grant(tokens.grant_id),
        "user_id": user_id(user),
        "screen_name": user.username,
    }
    return Response(urlencode(answer), media_type=FORM, headers=_NO_STORE)


# -- revocation ------------------------------------------------------------------------------

revocation = APIRouter(prefix="/api/1.1/oauth")


@revocation.post("/invalidate_token")
@revocation.post("/invalidate_token.json")
async def invalidate_token(
    request: Request, who: Annotated[Caller, Depends(caller("revoke", ads=False))]
) -> dict[str, str]:
    """The app gives up the token it signed this call with: the grant is revoked (89 after)."""
    sandbox_state(request).revoke_access_token(who.token)
    return {"access_token": who.token}
