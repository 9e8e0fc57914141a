"""The sandbox as Google's OAuth 2.0 and OpenID Connect endpoints, shared by every Google
product: the consent page (accounts.google.com), the token and revocation endpoints
(oauth2.googleapis.com) and userinfo (openidconnect.googleapis.com).

The sandbox's own consent and grant logic (`sandbox/oauth.py`, `grants.py`) runs underneath;
only the words and shapes are Google's. Facts and choices:
- A dead grant is one answer at the token endpoint: 400 `invalid_grant` "Token has been
  expired or revoked." (G1), whether it expired, was revoked or died of a password change.
- Google does not rotate refresh tokens: a refresh answers without one.
- No `id_token` is issued (Tether reads the user from userinfo).
- Unconfirmed, chosen as plausible: a code Google refuses is `invalid_grant` "Bad Request";
  an outage is 503 `internal_failure` "Backend Error"; a throttle is 429
  `rate_limit_exceeded` with Retry-After; revoking an unknown token is 400 `invalid_token`;
  userinfo refuses a token in google.rpc.Status (401 UNAUTHENTICATED).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from tether.sandbox.dialects.google_api import google_caller, google_route, plain_refusal
from tether.sandbox.faults import FaultError, apply_faults, count_call, sandbox_state
from tether.sandbox.oauth import (
    _FORM_ONLY,
    _NO_STORE,
    _TOKEN_CALL_KINDS,
    _authenticate_client,
    _error_redirect,
    _fatal_problem,
    _form,
    _redirect,
    _request_problem,
    _token_caller,
    oauth_error,
    templates,
)
from tether.sandbox.state import OAuthError, SandboxState, SandboxUser, TokenSet

DEAD_GRANT = "Token has been expired or revoked."
# What Google's consent screen says of the scopes Tether asks for.
_AUTH = "https://www.googleapis.com/auth/"
SCOPE_WORDS = {
    "openid": "Associate you with your personal info on Google",
    "email": "See your primary Google Account email address",
    "profile": "See your personal info, including any you've made publicly available",
    _AUTH + "adwords": "See, edit, create and delete your Google Ads accounts and data",
    _AUTH + "analytics.readonly": "See and download your Google Analytics data",
    _AUTH + "youtube.readonly": "View your YouTube account",
    _AUTH + "yt-analytics.readonly": "View YouTube Analytics reports for your YouTube content",
}

router = APIRouter()


# -- accounts.google.com: the consent page ---------------------------------------------------


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
        "fatal": fatal,
        "client_id": params.get("client_id", ""),
        "scopes": [SCOPE_WORDS.get(s, s) for s in scopes],
        "hidden": [(k, v) for k, v in params.items() if k not in _FORM_ONLY],
        "error": error,
        "username": params.get("username", ""),
    }
    # A password form must not be framed by another site (clickjacking).
    headers = {**_NO_STORE, "X-Frame-Options": "DENY"}
    return templates.TemplateResponse(
        request, "google_consent.html", context, status_code=status, headers=headers
    )


def _refused(request: Request, state: SandboxState, params: Mapping[str, str]) -> Response | None:
    """A request that cannot go on: shown (unsafe to redirect), or sent back with its error."""
    fatal = _fatal_problem(state, params)
    if fatal is not None:
        return _page(request, params, fatal=fatal, status=400)
    problem = _request_problem(params)
    return _error_redirect(params, *problem) if problem is not None else None


@router.get("/accounts/o/oauth2/v2/auth", response_model=None)
async def consent_page(request: Request) -> Response:
    """Google's sign-in and consent, for an authorization-code request with PKCE."""
    params = dict(request.query_params)
    return _refused(request, sandbox_state(request), params) or _page(request, params)


@router.post("/accounts/o/oauth2/v2/auth", response_model=None)
async def consent_decision(request: Request) -> Response:
    """The user's answer on the consent page."""
    params = await _form(request)
    state = sandbox_state(request)
    refused = _refused(request, state, params)
    if refused is not None:
        return refused
    if params.get("decision") == "deny":
        return _error_redirect(params, "access_denied", "The user denied access.")
    if params.get("decision") != "allow":
        return _error_redirect(params, "invalid_request", "The consent decision is missing.")
    user = state.authenticate(params.get("username", ""), params.get("password", ""))
    if user is None:
        return _page(request, params, error="Wrong email or password.", status=401)
    scope = params.get("scope") or "openid"
    code = state.issue_code(
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        code_challenge=params["code_challenge"],
        user_id=user.id,
        scope=scope,
    )
    answer = {"state": params.get("state"), "code": code, "scope": scope, "authuser": "0"}
    return _redirect(params["redirect_uri"], answer)


# -- oauth2.googleapis.com: token and revocation ---------------------------------------------


def _google_words(state: SandboxState, error: OAuthError, form: Mapping[str, str]) -> Response:
    """A refusal of the sandbox's grants, as Google's token endpoint words it."""
    if error.error == "invalid_client":
        known = state.client_known(form.get("client_id", ""))
        return oauth_error(
            401, "invalid_client", "Unauthorized" if known else "The OAuth client was not found."
        )
    if error.error == "invalid_grant":
        refreshing = form.get("grant_type") == "refresh_token"
        return oauth_error(400, "invalid_grant", DEAD_GRANT if refreshing else "Bad Request")
    return oauth_error(400, error.error, error.description)


def _fault(fault: FaultError) -> Response:
    if fault.code == "rate_limited":
        return oauth_error(429, "rate_limit_exceeded", "Rate Limit Exceeded", fault.headers)
    return oauth_error(503, "internal_failure", "Backend Error")


def _tokens(state: SandboxState, client_id: str, form: Mapping[str, str]) -> TokenSet:
    grant_type = form.get("grant_type", "")
    if grant_type == "authorization_code":
        return state.exchange_code(
            client_id=client_id,
            code=form.get("code", ""),
            redirect_uri=form.get("redirect_uri", ""),
            code_verifier=form.get("code_verifier"),
        )
    if grant_type == "refresh_token":
        if not form.get("refresh_token"):
            raise OAuthError("invalid_request", "Missing required parameter: refresh_token")
        return state.refresh(client_id=client_id, refresh_token=form["refresh_token"])
    if not grant_type:
        raise OAuthError("invalid_request", "Missing required parameter: grant_type")
    raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")


def _token_body(state: SandboxState, tokens: TokenSet, grant_type: str) -> dict[str, Any]:
    body = tokens.as_json()
    if grant_type == "refresh_token" and not state.settings.rotate_refresh_tokens:
        # Google keeps the refresh token it gave at consent and does not send it again.
        body.pop("refresh_token", None)
    return body


@router.post("/oauth2/token")
async def token(request: Request) -> Response:
    """Exchange an authorization code or a refresh token for tokens."""
    form = await _form(request)
    state = sandbox_state(request)
    grant_type = form.get("grant_type", "")
    username = _token_caller(state, grant_type, form)
    if grant_type in _TOKEN_CALL_KINDS:
        count_call(request, _TOKEN_CALL_KINDS[grant_type], username)
    try:
        await apply_faults(state, username, oauth_style=True)
        tokens = _tokens(state, _authenticate_client(request, form), form)
    except FaultError as fault:
        return _fault(fault)
    except OAuthError as error:
        return _google_words(state, error, form)
    return JSONResponse(_token_body(state, tokens, grant_type), headers=_NO_STORE)


@router.post("/oauth2/revoke")
async def revoke(request: Request) -> Response:
    """Revoke the grant of an access or refresh token; Google needs no client credentials."""
    form = await _form(request)
    state = sandbox_state(request)
    token = form.get("token") or request.query_params.get("token", "")
    count_call(request, "revoke", state.token_owner(token))
    if not any(state.revoke_token(token, client) for client in list(state.clients)):
        return oauth_error(400, "invalid_token", "Token expired or revoked")
    return JSONResponse({}, headers=_NO_STORE)


# -- openidconnect.googleapis.com: who the token belongs to ----------------------------------

userinfo_router = APIRouter(route_class=google_route(plain_refusal))


@userinfo_router.get("/openidconnect/v1/userinfo")
async def userinfo(user: Annotated[SandboxUser, Depends(google_caller("me"))]) -> dict[str, Any]:
    """The OpenID Connect claims of the token's user."""
    given, _, family = user.name.partition(" ")
    return {
        "sub": user.id,
        "name": user.name,
        "given_name": given,
        "family_name": family,
        "email": user.email,
        "email_verified": True,
    }
