"""The sandbox speaking Snapchat: sign-in, tokens and revocation under `/accounts`
(accounts.snapchat.com), the Marketing API under `/api` (adsapi.snapchat.com).

At Snap's own paths (`/accounts/login/oauth2/authorize`, `/accounts/login/oauth2/access_token`,
`/accounts/login/oauth2/revoke`, `/api/v1/me`, `/api/v1/me/organizations`,
`/api/v1/organizations/{id}/adaccounts`, `/api/v1/adaccounts/{id}` and its `/stats`), in its
shapes (`snapchat_api.py`, `snapchat_stats.py`): items wrapped with their
`sub_request_status`, `limit` and `paging.next_link` paging, UUIDs, each ad account's time zone,
stats per day from its midnight, spend in micros, and Snap's error envelope. Grants follow
Snap's token rules whatever the sandbox's settings say: an access token of an hour, a refresh
token without an end, used again and again (a refresh answers no new one).

The sandbox's switches make it answer as Snap would: any token it no longer accepts is a bare
401 "Unauthorized" (Snap does not say why), and the refresh that follows says it with OAuth's
`invalid_grant`: "The refresh token has expired." when it ended, "Invalid refresh token." when
it was revoked, a password change included (Snap cannot tell the two apart). A lost ad account
is 403 E3002, down is 503, throttled is 429 with `Retry-After` and Snap's `X-Rate-Limit-*`
headers. The person-facing words other than Snap's "requested resource is not available" are
the sandbox's own.
"""

from collections.abc import Mapping

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from tether.sandbox.dialects import snapchat_stats  # noqa: F401  (its route joins `api`)
from tether.sandbox.dialects.app import answered, dialect_app
from tether.sandbox.dialects.snapchat_api import SnapError, api, fault_error, invalid, not_found
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
    _authenticate_client,
    _error_redirect,
    _form,
    _redirect,
    _token_caller,
    oauth_error,
    templates,
)
from tether.sandbox.state import OAuthError, SandboxState, TokenSet
from tether.sandbox.tokens import EXPIRED_DESCRIPTION, IDLE_DESCRIPTION, TokenRules

ACCESS_SECONDS = 3600
RULES = TokenRules(ACCESS_SECONDS)
INVALID_REFRESH = "Invalid refresh token."
EXPIRED_REFRESH = "The refresh token has expired."
INVALID_CODE = "Invalid authorization code."
SCOPE_WORDS = {
    "snapchat-marketing-api": "Manage your Snapchat ad accounts and read their reports",
}

accounts = APIRouter(prefix="/accounts")


def create_app(state: SandboxState) -> FastAPI:
    """Snapchat's dialect of the sandbox, over the sandbox's own world."""
    return dialect_app(
        "Snapchat",
        state,
        (accounts, api),
        {SnapError: answered, RequestValidationError: _invalid, HTTPException: _unknown_path},
    )


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    return invalid("The request's parameters are not valid.").response()


async def _unknown_path(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return SnapError(405, "Method not allowed").response()
    return not_found().response()


# -- the sign-in page -----------------------------------------------------------------------


def _fatal(state: SandboxState, params: Mapping[str, str]) -> str | None:
    """What makes redirecting unsafe: shown on the page instead."""
    if not state.client_known(params.get("client_id", "")):
        return "This app isn't recognized. The client_id is not valid."
    if not params.get("redirect_uri"):
        return "The redirect_uri is missing."
    return None


def _problem(params: Mapping[str, str]) -> tuple[str, str] | None:
    """What is told back to the app through its redirect URI. PKCE is optional here."""
    if params.get("response_type") != "code":
        return "unsupported_response_type", "response_type must be code."
    if not params.get("scope"):
        return "invalid_scope", "The scope parameter is missing."
    challenge = params.get("code_challenge")
    if challenge is not None and (
        params.get("code_challenge_method") != "S256" or not _CHALLENGE.match(challenge)
    ):
        return "invalid_request", "code_challenge must be an S256 challenge."
    return None


def _page(
    request: Request,
    params: Mapping[str, str],
    *,
    error: str | None = None,
    fatal: str | None = None,
    status: int = 200,
) -> Response:
    scopes = (params.get("scope") or "").split()
    context = {
        "client_id": params.get("client_id", ""),
        "scopes": list(dict.fromkeys(SCOPE_WORDS.get(s, s) for s in scopes)),
        "hidden": [(k, v) for k, v in params.items() if k not in _FORM_ONLY],
        "error": error,
        "fatal": fatal,
        "username": params.get("username", ""),
    }
    headers = {**_NO_STORE, "X-Frame-Options": "DENY"}
    return templates.TemplateResponse(
        request, "snapchat_consent.html", context, status_code=status, headers=headers
    )


def _refused(request: Request, state: SandboxState, params: Mapping[str, str]) -> Response | None:
    fatal = _fatal(state, params)
    if fatal is not None:
        return _page(request, params, fatal=fatal, status=400)
    problem = _problem(params)
    return _error_redirect(params, *problem) if problem is not None else None


@accounts.get("/login/oauth2/authorize", response_model=None)
async def authorize(request: Request) -> Response:
    """Snap's log-in and consent for the authorization-code flow."""
    params = dict(request.query_params)
    return _refused(request, sandbox_state(request), params) or _page(request, params)


@accounts.post("/login/oauth2/authorize", response_model=None)
async def authorize_answer(request: Request) -> Response:
    """The member's answer: back to the app with a code, or with the refusal."""
    params = await _form(request)
    state = sandbox_state(request)
    refused = _refused(request, state, params)
    if refused is not None:
        return refused
    if params.get("decision") != "allow":
        return _error_redirect(params, "access_denied", "The user denied the request.")
    user = state.authenticate(params.get("username", ""), params.get("password", ""))
    if user is None:
        return _page(request, params, error="That's not the right password.", status=401)
    code = state.issue_code(
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        code_challenge=params.get("code_challenge", ""),
        user_id=user.id,
        scope=params["scope"],
    )
    return _redirect(params["redirect_uri"], {"code": code, "state": params.get("state")})


# -- tokens ---------------------------------------------------------------------------------


def _words(error: OAuthError, grant_type: str) -> JSONResponse:
    """A refusal of the sandbox's grants, as Snap's token endpoint words it."""
    if error.error == "invalid_client":
        return oauth_error(401, "invalid_client", "Client authentication failed.")
    if error.error != "invalid_grant":
        return oauth_error(400, error.error, error.description)
    if grant_type != "refresh_token":
        return oauth_error(400, "invalid_grant", INVALID_CODE)
    ended = error.description in (EXPIRED_DESCRIPTION, IDLE_DESCRIPTION)
    return oauth_error(400, "invalid_grant", EXPIRED_REFRESH if ended else INVALID_REFRESH)


def _tokens(state: SandboxState, client_id: str, form: Mapping[str, str]) -> TokenSet:
    grant_type = form.get("grant_type", "")
    if grant_type == "authorization_code":
        if not form.get("code") or not form.get("redirect_uri"):
            raise OAuthError("invalid_request", "code and redirect_uri are required.")
        return state.exchange_code(
            client_id=client_id,
            code=form["code"],
            redirect_uri=form["redirect_uri"],
            code_verifier=form.get("code_verifier"),
            rules=RULES,
        )
    if grant_type == "refresh_token":
        if not form.get("refresh_token"):
            raise OAuthError("invalid_request", "refresh_token is required.")
        return state.refresh(client_id=client_id, refresh_token=form["refresh_token"])
    raise OAuthError("unsupported_grant_type", "grant_type is not supported.")


def _answer(tokens: TokenSet, grant_type: str) -> dict[str, object]:
    """Snap's token answer; a refresh answers no refresh token (the first one lives on)."""
    body: dict[str, object] = {
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "scope": tokens.scope,
    }
    if tokens.refresh_token is not None and grant_type != "refresh_token":
        body["refresh_token"] = tokens.refresh_token
    return body


@accounts.post("/login/oauth2/access_token")
async def access_token(request: Request) -> Response:
    """A code, or the refresh token, for an access token; client id and secret in the form."""
    form = await _form(request)
    state = sandbox_state(request)
    grant_type = form.get("grant_type", "")
    username = _token_caller(state, grant_type, form)
    if grant_type in _TOKEN_CALL_KINDS:
        count_call(request, _TOKEN_CALL_KINDS[grant_type], username)
    try:
        await apply_faults(state, username)
        tokens = _tokens(state, _authenticate_client(request, form), form)
    except FaultError as fault:
        return fault_error(fault).response()
    except OAuthError as error:
        return _words(error, grant_type)
    return JSONResponse(_answer(tokens, grant_type), headers=_NO_STORE)


@accounts.post("/login/oauth2/revoke")
async def revoke(request: Request) -> Response:
    """The grant behind an access or refresh token revoked (RFC 7009: 200 even when the token
    was unknown)."""
    form = await _form(request)
    state = sandbox_state(request)
    token = form.get("token", "")
    count_call(request, "revoke", state.token_owner(token))
    try:
        client_id = _authenticate_client(request, form)
    except OAuthError:
        return oauth_error(401, "invalid_client", "Client authentication failed.")
    if not token:
        return oauth_error(400, "invalid_request", "token is required.")
    state.revoke_token(token, client_id)
    return Response(status_code=200, headers=_NO_STORE)
