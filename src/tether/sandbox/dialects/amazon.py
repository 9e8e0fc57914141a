"""The sandbox speaking Amazon Ads: Login with Amazon's consent page under `/www`
(www.amazon.com), its token and profile endpoints under `/lwa` (api.amazon.com), and the Ads
API under `/na`, `/eu` and `/fe` (advertising-api{,-eu,-fe}.amazon.com).

At Amazon's own paths (`/www/ap/oa`, `/lwa/auth/o2/token`, `/lwa/user/profile`,
`/<region>/v2/profiles`, `/<region>/reporting/reports` and its status), in its shapes
(`amazon_api.py`, `amazon_reporting.py`): profiles as a plain list per region, asynchronous
reports with a gzip JSON file behind a presigned link, `{"code", "details"}` errors, and Login
with Amazon's OAuth errors. Grants follow Amazon's token rules whatever the sandbox's settings
say: an access token of an hour, a refresh token without an end, and a new refresh token on
every refresh (as the issue says: Tether stores it at once). Tokens are the sandbox's own
(`sbx_at_…`, not Amazon's `Atza|…`), so its switches find them.

The sandbox's switches make it answer as Amazon would: any token the API no longer takes is a
401 "Authentication failed" (Amazon does not say why), and the refresh that follows says it in
Login with Amazon's words, the same for a revoked grant, an ended one and a password change
(`invalid_grant`, "The request has an invalid grant parameter : refresh_token…"), which all read
as `token_revoked`. A lost profile is 401 "Not authorized to access scope <id>", down is a 500,
throttled a 429 with Retry-After. Login with Amazon's own answers to the switches (503
`TemporarilyUnavailable`, a 429 with Retry-After) are assumed, as is every word of an answer
the notes do not quote.
"""

import hashlib
import re
import secrets
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from tether.sandbox.dialects.amazon_api import AdsError, ads_error, api, invalid, not_found
from tether.sandbox.dialects.amazon_reporting import reporting
from tether.sandbox.dialects.app import answered, dialect_app
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
    _error_redirect,
    _form,
    _redirect,
    _token_caller,
    oauth_error,
    templates,
)
from tether.sandbox.state import OAuthError, SandboxError, SandboxState, SandboxUser, TokenSet
from tether.sandbox.tokens import TokenRules

ACCESS_SECONDS = 3600
RULES = TokenRules(ACCESS_SECONDS, rotate=True)
# What the consent page says of the scopes it knows.
SCOPE_WORDS = {
    "advertising::campaign_management": "Manage your Amazon Ads campaigns and read their reports",
    "advertising::audiences": "Manage your Amazon Ads audiences",
    "advertising::test:create_account": "Create Amazon Ads test accounts",
    "profile": "Your name and email address",
    "profile:user_id": "A unique identifier for your Amazon account",
    "postal_code": "Your postal code",
}
# Login with Amazon's words (3P, quoted by several clients; see `providers/amazon_ads.py`).
BAD_REFRESH = (
    "The request has an invalid grant parameter : refresh_token. User may have revoked or "
    "didn't grant the permission."
)
BAD_CODE = "The request has an invalid grant parameter : code"
BAD_CLIENT = "Client authentication failed"
BAD_TOKEN = (
    "The access token provided is expired, revoked, malformed, or invalid for other reasons."
)

www = APIRouter(prefix="/www")
lwa = APIRouter(prefix="/lwa")


def create_app(state: SandboxState) -> FastAPI:
    """Amazon's dialect of the sandbox, over the sandbox's own world."""
    app = dialect_app(
        "Amazon",
        state,
        (www, lwa, api, reporting),
        {AdsError: answered, RequestValidationError: _invalid, HTTPException: _unknown_path},
    )
    # Reports and their files' signing key live with the dialect, not in the saved world:
    # a restart forgets the reports under way, and Tether asks for them again.
    app.state.amazon_reports = {}
    app.state.amazon_link_key = secrets.token_bytes(32)
    return app


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    return invalid("The request's parameters are not valid.").response()


async def _unknown_path(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return ads_error(405, "METHOD_NOT_ALLOWED", "Method Not Allowed").response()
    return not_found(str(request.url)).response()


# -- the consent page (www.amazon.com/ap/oa) ------------------------------------------------


def _fatal(state: SandboxState, params: Mapping[str, str]) -> str | None:
    """What makes redirecting unsafe: shown on the page instead."""
    if not state.client_known(params.get("client_id", "")):
        return "We cannot process your request: the client_id is not registered."
    if not params.get("redirect_uri"):
        return "We cannot process your request: the redirect_uri is missing."
    return None


def _problem(params: Mapping[str, str]) -> tuple[str, str] | None:
    """What is told back to the app through its redirect URI. PKCE is checked when sent."""
    if params.get("response_type") != "code":
        return "unsupported_response_type", "The response_type must be code."
    scopes = params.get("scope", "").split()
    if not scopes or any(s not in SCOPE_WORDS for s in scopes):
        return "invalid_scope", "An unknown scope was requested."
    challenge = params.get("code_challenge")
    if challenge is not None and (
        params.get("code_challenge_method") != "S256" or not _CHALLENGE.match(challenge)
    ):
        return "invalid_request", "The code_challenge must be an S256 challenge."
    return None


def _page(
    request: Request,
    params: Mapping[str, str],
    *,
    error: str | None = None,
    fatal: str | None = None,
    status: int = 200,
) -> Response:
    scopes = params.get("scope", "").split()
    context = {
        "client_id": params.get("client_id", ""),
        "scopes": [SCOPE_WORDS.get(s, s) for s in scopes],
        "hidden": [(k, v) for k, v in params.items() if k not in _FORM_ONLY],
        "error": error,
        "fatal": fatal,
        "username": params.get("username", ""),
    }
    # A password form must not be framed by another site (clickjacking).
    headers = {**_NO_STORE, "X-Frame-Options": "DENY"}
    return templates.TemplateResponse(
        request, "amazon_consent.html", context, status_code=status, headers=headers
    )


def _ended(request: Request, params: Mapping[str, str]) -> Response | None:
    """The page or redirect that ends a request in error, if it is one."""
    fatal = _fatal(sandbox_state(request), params)
    if fatal is not None:
        return _page(request, params, fatal=fatal, status=400)
    problem = _problem(params)
    return _error_redirect(params, *problem) if problem is not None else None


@www.get("/ap/oa", response_model=None)
async def consent(request: Request) -> Response:
    """Login with Amazon's sign-in and consent page."""
    params = dict(request.query_params)
    return _ended(request, params) or _page(request, params)


@www.post("/ap/oa", response_model=None)
async def consent_answer(request: Request) -> Response:
    """The advertiser's answer: back to the app with a code (and the scope), or the refusal."""
    params = await _form(request)
    ended = _ended(request, params)
    if ended is not None:
        return ended
    if params.get("decision") != "allow":
        return _error_redirect(params, "access_denied", "The user denied the request.")
    state = sandbox_state(request)
    user = state.authenticate(params.get("username", ""), params.get("password", ""))
    if user is None:
        return _page(request, params, error="Your password is incorrect.", status=401)
    code = state.issue_code(
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        code_challenge=params.get("code_challenge", ""),
        user_id=user.id,
        scope=params["scope"],
    )
    answer = {"code": code, "scope": params["scope"], "state": params.get("state")}
    return _redirect(params["redirect_uri"], answer)


# -- the token endpoint (api.amazon.com/auth/o2/token) --------------------------------------


def _client(request: Request, form: Mapping[str, str]) -> str | None:
    """The app, by its id and secret in the form (or HTTP Basic); None when they are wrong."""
    try:
        credentials = _basic_credentials(request)
    except OAuthError:
        return None
    client_id, secret = credentials or (form.get("client_id", ""), form.get("client_secret", ""))
    return client_id if sandbox_state(request).client_valid(client_id, secret) else None


def _tokens(state: SandboxState, client_id: str, form: Mapping[str, str]) -> TokenSet:
    grant_type = form.get("grant_type", "")
    if grant_type == "authorization_code":
        for name in ("code", "redirect_uri"):
            if not form.get(name):
                raise OAuthError(
                    "invalid_request", f"The request is missing a required parameter : {name}"
                )
        return state.exchange_code(
            client_id=client_id,
            code=form["code"],
            redirect_uri=form["redirect_uri"],
            code_verifier=form.get("code_verifier"),
            rules=RULES,
        )
    if grant_type == "refresh_token":
        if not form.get("refresh_token"):
            raise OAuthError(
                "invalid_request", "The request is missing a required parameter : refresh_token"
            )
        return state.refresh(client_id=client_id, refresh_token=form["refresh_token"])
    raise OAuthError(
        "unsupported_grant_type",
        "The authorization grant type is not supported by the authorization server",
    )


def _refused(error: OAuthError, grant_type: str) -> JSONResponse:
    """A refusal of the sandbox's grants in Login with Amazon's words: it says no more than
    which parameter it refused."""
    if error.error != "invalid_grant":
        return oauth_error(400, error.error, error.description)
    words = BAD_REFRESH if grant_type == "refresh_token" else BAD_CODE
    return oauth_error(400, "invalid_grant", words)


def _fault(fault: FaultError) -> JSONResponse:
    """A sandbox switch as Login with Amazon answers it (assumed; see the docstring)."""
    if fault.code == "rate_limited":
        wait = fault.headers.get("Retry-After", "1")
        return JSONResponse({"message": "Too Many Requests"}, 429, {"Retry-After": wait})
    return oauth_error(503, "TemporarilyUnavailable", "The service is temporarily unavailable.")


def _answer(tokens: TokenSet) -> dict[str, Any]:
    """Login with Amazon's token answer: after a refresh, the refresh token that replaces the
    one presented."""
    body: dict[str, Any] = {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "token_type": "bearer",
        "expires_in": tokens.expires_in,
    }
    return {k: v for k, v in body.items() if v is not None}


@lwa.post("/auth/o2/token")
async def token(request: Request) -> Response:
    """A code, or a refresh token, for tokens; the client id and secret in the form."""
    form = await _form(request)
    state = sandbox_state(request)
    grant_type = form.get("grant_type", "")
    username = _token_caller(state, grant_type, form)
    if grant_type in _TOKEN_CALL_KINDS:
        count_call(request, _TOKEN_CALL_KINDS[grant_type], username)
    try:
        await apply_faults(state, username)
    except FaultError as fault:
        return _fault(fault)
    client_id = _client(request, form)
    if client_id is None:
        return oauth_error(401, "invalid_client", BAD_CLIENT)
    try:
        tokens = _tokens(state, client_id, form)
    except OAuthError as error:
        return _refused(error, grant_type)
    return JSONResponse(_answer(tokens), headers=_NO_STORE)


# -- the customer profile (api.amazon.com/user/profile) -------------------------------------


def amazon_user_id(user: SandboxUser) -> str:
    """An Amazon-like account id for a sandbox user, the same in every world."""
    digest = hashlib.sha256(f"amazon:user:{user.id}".encode()).hexdigest().upper()
    return f"amzn1.account.{re.sub(r'[^A-Z0-9]', '', digest)[:28]}"


@lwa.get("/user/profile")
async def user_profile(request: Request) -> Response:
    """Who signed in, for a token granted the `profile` scope."""
    state = sandbox_state(request)
    count_call(request, "me", None)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise SandboxError("invalid_token", "No bearer token.")
        user = state.user_for_access_token(token.strip())
    except SandboxError:
        return oauth_error(401, "invalid_token", BAD_TOKEN)
    count_call(request, "me", user.username)
    try:
        await apply_faults(state, user.username)
    except FaultError as fault:
        return _fault(fault)
    if "profile" not in state.grant_holding(token.strip()).scope.split():
        return oauth_error(
            403,
            "insufficient_scope",
            "The access token provided does not have access to the requested resource.",
        )
    return JSONResponse({"user_id": amazon_user_id(user), "name": user.name, "email": user.email})
