"""The sandbox speaking LinkedIn: sign-in and tokens under `/www` (www.linkedin.com), the API
under `/api` (api.linkedin.com).

At LinkedIn's own paths (`/www/oauth/v2/authorization`, `/www/oauth/v2/accessToken`,
`/www/oauth/v2/revoke`, `/api/v2/userinfo`, `/api/rest/adAccountUsers`, `/api/rest/adAccounts`,
`/api/rest/adAnalytics`), in its shapes (`linkedin_api.py`): Rest.li 2.0 lists and date
ranges, `elements` with `start`/`count` paging, batch gets, and every error in LinkedIn's
envelope. Grants follow LinkedIn's token rules whatever the sandbox's settings say: a 60-day
access token and a refresh token that ends 365 days after consent, refreshing or not. The
sandbox's switches make it answer as LinkedIn would: expired 65602, revoked 65601 (a password
change too: LinkedIn does not say why it revoked), a lost ad account 403 with code 100, down
503, throttled 429 with code 101 and no rate-limit headers. A refused refresh is LinkedIn's
one `invalid_grant`, whatever killed the grant.
"""

from collections.abc import Mapping

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from tether.sandbox.dialects.app import answered, dialect_app
from tether.sandbox.dialects.linkedin_api import LinkedInError, api, fault_error, illegal
from tether.sandbox.faults import (
    FaultError,
    apply_faults,
    count_call,
    sandbox_state,
)
from tether.sandbox.oauth import (
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
from tether.sandbox.tokens import TokenRules

ACCESS_SECONDS = 60 * 86400
REFRESH_SECONDS = 365 * 86400
RULES = TokenRules(ACCESS_SECONDS, refresh_fixed_seconds=REFRESH_SECONDS)
DEAD_GRANT = "The provided authorization grant or refresh token is invalid, expired or revoked."
BAD_CODE = (
    "Unable to retrieve access token: appid/redirect uri/code verifier does not match "
    "authorization code. Or authorization code expired. Or external member binding exists"
)
SCOPE_WORDS = {
    "r_ads": "Retrieve your advertising accounts",
    "r_ads_reporting": "Retrieve reporting for your advertising accounts",
    "openid": "Use your name and photo",
    "profile": "Use your name and photo",
    "email": "Use the primary email address associated with your LinkedIn account",
}

www = APIRouter(prefix="/www")


def create_app(state: SandboxState) -> FastAPI:
    """LinkedIn's dialect of the sandbox, over the sandbox's own world."""
    return dialect_app(
        "LinkedIn",
        state,
        (www, api),
        {LinkedInError: answered, RequestValidationError: _invalid, HTTPException: _unknown_path},
    )


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    return illegal("The request's parameters are not valid.").response()


async def _unknown_path(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return LinkedInError(405, "Method not allowed", code="METHOD_NOT_ALLOWED").response()
    return LinkedInError(404, "Not Found", code="RESOURCE_NOT_FOUND").response()


# -- the sign-in page -----------------------------------------------------------------------


def _fatal(state: SandboxState, params: Mapping[str, str]) -> str | None:
    """What makes redirecting unsafe: shown on the page instead."""
    if not state.client_known(params.get("client_id", "")):
        return "The passed in client_id is invalid"
    if not params.get("redirect_uri"):
        return "The redirect_uri does not match the registered value"
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
    words = list(dict.fromkeys(SCOPE_WORDS.get(s, s) for s in scopes))
    context = {
        "client_id": params.get("client_id", ""),
        "scopes": words,
        "hidden": [(k, v) for k, v in params.items() if k not in _FORM_ONLY],
        "error": error,
        "fatal": fatal,
        "username": params.get("username", ""),
    }
    headers = {**_NO_STORE, "X-Frame-Options": "DENY"}
    return templates.TemplateResponse(
        request, "linkedin_consent.html", context, status_code=status, headers=headers
    )


def _refused(request: Request, state: SandboxState, params: Mapping[str, str]) -> Response | None:
    fatal = _fatal(state, params)
    if fatal is not None:
        return _page(request, params, fatal=fatal, status=400)
    if params.get("response_type") != "code":
        return _error_redirect(params, "unsupported_response_type", "response_type must be code")
    if not params.get("scope"):
        return _error_redirect(params, "invalid_scope", "The scope parameter is missing")
    return None


@www.get("/oauth/v2/authorization", response_model=None)
async def authorization(request: Request) -> Response:
    """LinkedIn's sign-in and consent for the authorization-code flow."""
    params = dict(request.query_params)
    return _refused(request, sandbox_state(request), params) or _page(request, params)


@www.post("/oauth/v2/authorization", response_model=None)
async def authorization_answer(request: Request) -> Response:
    """The member's answer: back to the app with a code, or with LinkedIn's refusal."""
    params = await _form(request)
    state = sandbox_state(request)
    refused = _refused(request, state, params)
    if refused is not None:
        return refused
    if params.get("decision") != "allow":
        return _error_redirect(
            params, "user_cancelled_authorize", "The user cancelled the authorization"
        )
    user = state.authenticate(params.get("username", ""), params.get("password", ""))
    if user is None:
        return _page(request, params, error="Wrong email or password. Try again.", status=401)
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
    """A refusal of the sandbox's grants, as LinkedIn's token endpoint words it."""
    if error.error == "invalid_client":
        return oauth_error(401, "invalid_client", "Client authentication failed")
    if error.error == "invalid_grant":
        if grant_type == "refresh_token":
            return oauth_error(400, "invalid_grant", DEAD_GRANT)
        return oauth_error(400, "invalid_request", BAD_CODE)
    return oauth_error(400, error.error, error.description)


def _tokens(state: SandboxState, client_id: str, form: Mapping[str, str]) -> TokenSet:
    grant_type = form.get("grant_type", "")
    if grant_type == "authorization_code":
        if not form.get("redirect_uri"):
            raise OAuthError("invalid_request", 'A required parameter "redirect_uri" is missing')
        return state.exchange_code(
            client_id=client_id,
            code=form.get("code", ""),
            redirect_uri=form["redirect_uri"],
            code_verifier=form.get("code_verifier"),
            rules=RULES,
        )
    if grant_type == "refresh_token":
        if not form.get("refresh_token"):
            raise OAuthError("invalid_request", 'A required parameter "refresh_token" is missing')
        return state.refresh(client_id=client_id, refresh_token=form["refresh_token"])
    raise OAuthError("invalid_request", 'A required parameter "grant_type" is missing or invalid')


def _answer(tokens: TokenSet) -> dict[str, object]:
    """LinkedIn's token answer: a second short of each lifetime, scopes comma-separated, the
    refresh token's remaining life (the same token again on a refresh)."""
    body: dict[str, object] = {
        "access_token": tokens.access_token,
        "expires_in": max(0, tokens.expires_in - 1),
        "scope": ",".join(tokens.scope.split()),
    }
    if tokens.refresh_token is not None:
        body["refresh_token"] = tokens.refresh_token
        body["refresh_token_expires_in"] = max(0, (tokens.refresh_token_expires_in or 1) - 1)
    return body


@www.post("/oauth/v2/accessToken")
async def access_token(request: Request) -> Response:
    """A code, or a refresh token, for tokens; client id and secret come in the form."""
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
    return JSONResponse(_answer(tokens), headers=_NO_STORE)


@www.post("/oauth/v2/revoke")
async def revoke(request: Request) -> Response:
    """The app's grant revoked (client id and secret in the form, as for tokens)."""
    form = await _form(request)
    state = sandbox_state(request)
    token = form.get("token", "")
    count_call(request, "revoke", state.token_owner(token))
    try:
        client_id = _authenticate_client(request, form)
    except OAuthError:
        return oauth_error(401, "invalid_client", "Client authentication failed")
    if not token:
        return oauth_error(400, "invalid_request", 'A required parameter "token" is missing')
    state.revoke_token(token, client_id)
    return Response(status_code=200, headers=_NO_STORE)
