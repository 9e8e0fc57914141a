"""The sandbox speaking Microsoft: the Microsoft identity platform's sign-in and token endpoint
under `/login` (login.microsoftonline.com), Microsoft Advertising's Customer Management service
under `/clientcenter` and its Reporting service under `/reporting` (Bing Ads API v13 over REST:
`microsoft_api.py`, `microsoft_reports.py`), and report files under `/download`; the
identity platform's errors are in `microsoft_entra.py`.

At Microsoft's own paths (`/login/{tenant}/oauth2/v2.0/authorize` and `.../token`,
`/clientcenter/CustomerManagement/v13/User/Query` and `.../Accounts/Search`,
`/reporting/Reporting/v13/GenerateReport/Submit` and `.../Poll`), in its shapes: the identity
platform's errors (`error`, `error_description` starting with its AADSTS code, `error_codes`,
trace and correlation ids), token answers without a refresh token's lifetime, a refresh token
only for `offline_access`, ids as JSON strings, `PageInfo` paging, reports to poll and download.

Grants follow Microsoft's token rules whatever the sandbox's settings say: an access token of an
hour, and a refresh token replaced by a new one on every refresh that ends after 90 days unused
(`TokenRules`). The predecessor of a refresh token stays usable until its successor is used,
where Microsoft leaves it usable until its own 90 days end; Tether always holds the newest.

The sandbox's switches answer as Microsoft would: an access token no longer honoured is 109
"Authentication token expired" (an expired one; or one whose grant was revoked or whose user
changed password, which Microsoft's self-contained tokens say only when they end), and the
refresh that follows says why: AADSTS700082 for a refresh token that ended unused, AADSTS65001
for a grant whose consent was removed, AADSTS50173 for one revoked by a password change. A lost
account is 106 "UserIsNotAuthorized" on its report; down is the internal error 0 (and
`temporarily_unavailable` at the token endpoint); throttled is 117 CallRateExceeded (a 429 with
`Retry-After` at the token endpoint).
"""

import re
from collections.abc import Mapping

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from tether.sandbox.dialects.app import answered, dialect_app
from tether.sandbox.dialects.microsoft_api import AdsFault, clientcenter, null_request
from tether.sandbox.dialects.microsoft_entra import (
    EntraError,
    bad_secret,
    fault_error,
    grant_refused,
    unknown_app,
)
from tether.sandbox.dialects.microsoft_reports import ReportStore, download, reporting
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
    templates,
)
from tether.sandbox.state import OAuthError, SandboxState, TokenSet
from tether.sandbox.tokens import TokenRules, pkce_challenge

ACCESS_SECONDS = 3600
IDLE_SECONDS = 90 * 86400
RULES = TokenRules(ACCESS_SECONDS, refresh_idle_seconds=IDLE_SECONDS, rotate=True)
ADS_SCOPE = "https://ads.microsoft.com/msads.manage"
# What the consent page says of the scopes it knows; any other is refused (AADSTS70011).
SCOPE_WORDS = {
    ADS_SCOPE: "Access your Microsoft Advertising accounts",
    "https://ads.microsoft.com/ads.manage": "Access your Microsoft Advertising accounts",
    "offline_access": "Maintain access to data you have given it access to",
    "openid": "Sign you in",
    "profile": "View your basic profile",
    "email": "View your email address",
}
TENANT = re.compile(r"^(common|organizations|consumers|[0-9a-f-]{36}|[a-z0-9.-]+\.[a-z]+)$")
PROMPTS = ("login", "none", "consent", "select_account")
WRONG_PASSWORD = (
    "Your account or password is incorrect. If you don't remember your password, reset it now."
)

login = APIRouter(prefix="/login/{tenant}/oauth2/v2.0")


def create_app(state: SandboxState) -> FastAPI:
    """Microsoft's dialect of the sandbox, over the sandbox's own world."""
    app = dialect_app(
        "Microsoft",
        state,
        (login, clientcenter, reporting, download),
        {
            AdsFault: answered,
            EntraError: answered,
            RequestValidationError: _invalid,
            HTTPException: _unknown_path,
        },
    )
    app.state.microsoft_reports = ReportStore()
    return app


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    return null_request().response()


async def _unknown_path(request: Request, exc: Exception) -> JSONResponse:
    """What ASP.NET Web API answers for a route it does not have (assumed: Microsoft's REST
    endpoints do not document it)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        message = "The requested resource does not support http method '{}'."
        return JSONResponse({"Message": message.format(request.method)}, status_code=405)
    message = f"No HTTP resource was found that matches the request URI '{request.url}'."
    return JSONResponse({"Message": message}, status_code=404)


# -- the sign-in and consent page -----------------------------------------------------------


def _scopes(params: Mapping[str, str]) -> list[str]:
    return (params.get("scope") or "").split()


def _fatal(state: SandboxState, tenant: str, params: Mapping[str, str]) -> str | None:
    """What makes redirecting unsafe: shown on the page instead."""
    if not TENANT.match(tenant):
        return f"AADSTS90002: Tenant '{tenant}' not found."
    client_id = params.get("client_id", "")
    if not state.client_known(client_id):
        return f"AADSTS700016: {unknown_app(client_id)}"
    if not params.get("redirect_uri"):
        return (
            "AADSTS900144: The request body must contain the following parameter: 'redirect_uri'."
        )
    return None


def _problem(params: Mapping[str, str]) -> tuple[str, str] | None:
    """What is told back to the app through its redirect URI."""
    if params.get("response_type") != "code":
        return "unsupported_response_type", "AADSTS70005: The response_type must include code."
    unknown = [s for s in _scopes(params) if s not in SCOPE_WORDS]
    if not _scopes(params) or unknown:
        words = (
            f"The provided value for the input parameter 'scope' is not valid: {' '.join(unknown)}"
        )
        return "invalid_scope", f"AADSTS70011: {words}"
    if params.get("response_mode", "query") != "query":
        return "invalid_request", "AADSTS70007: The sandbox answers response_mode=query only."
    challenge = params.get("code_challenge")
    if challenge is not None and (
        params.get("code_challenge_method", "plain") not in ("S256", "plain")
        or not _CHALLENGE.match(challenge)
    ):
        return "invalid_request", "AADSTS501491: Invalid size of Code_Challenge parameter."
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
        "action": request.url.path,
        "client_id": params.get("client_id", ""),
        "scopes": list(dict.fromkeys(SCOPE_WORDS.get(s, s) for s in _scopes(params))),
        "hidden": [(k, v) for k, v in params.items() if k not in _FORM_ONLY],
        "error": error,
        "fatal": fatal,
        "username": params.get("username", ""),
    }
    # A password form must not be framed by another site (clickjacking).
    headers = {**_NO_STORE, "X-Frame-Options": "DENY"}
    return templates.TemplateResponse(
        request, "microsoft_signin.html", context, status_code=status, headers=headers
    )


def _refused(request: Request, tenant: str, params: Mapping[str, str]) -> Response | None:
    fatal = _fatal(sandbox_state(request), tenant, params)
    if fatal is not None:
        return _page(request, params, fatal=fatal, status=400)
    problem = _problem(params)
    if problem is not None:
        return _error_redirect(params, *problem)
    if params.get("prompt", "login") not in PROMPTS:
        return _error_redirect(params, "invalid_request", "AADSTS90023: Invalid prompt value.")
    if params.get("prompt") == "none" and request.method == "GET":
        # The sandbox keeps no sign-in session: a silent request always needs the person.
        words = "AADSTS50058: A silent sign-in request was sent but no user is signed in."
        return _error_redirect(params, "login_required", words)
    return None


@login.get("/authorize", response_model=None)
async def authorize(request: Request, tenant: str) -> Response:
    """Sign in and grant the permissions asked for."""
    params = dict(request.query_params)
    return _refused(request, tenant, params) or _page(request, params)


@login.post("/authorize", response_model=None)
async def authorize_answer(request: Request, tenant: str) -> Response:
    """The person's answer: back to the app with a code, or with the refusal."""
    params = await _form(request)
    refused = _refused(request, tenant, params)
    if refused is not None:
        return refused
    if params.get("decision") != "allow":
        words = "AADSTS65004: User declined to consent to access the app."
        return _error_redirect(params, "access_denied", words)
    state = sandbox_state(request)
    user = state.authenticate(params.get("username", ""), params.get("password", ""))
    if user is None:
        return _page(request, params, error=WRONG_PASSWORD)
    code = state.issue_code(
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        code_challenge=_challenge(params),
        user_id=user.id,
        scope=" ".join(_scopes(params)),
    )
    return _redirect(params["redirect_uri"], {"code": code, "state": params.get("state")})


def _challenge(params: Mapping[str, str]) -> str:
    """The S256 challenge the code is bound to: a `plain` challenge is the verifier itself."""
    challenge = params.get("code_challenge", "")
    if challenge and params.get("code_challenge_method", "plain") == "plain":
        return pkce_challenge(challenge)
    return challenge


# -- the token endpoint ---------------------------------------------------------------------


def _client(state: SandboxState, request: Request, form: Mapping[str, str]) -> str:
    """The app, by its secret in the form (a web app's) or by HTTP Basic."""
    credentials = _basic_credentials(request) or (
        form.get("client_id", ""),
        form.get("client_secret", ""),
    )
    client_id, secret = credentials
    if not state.client_known(client_id):
        raise EntraError(400, "unauthorized_client", 700016, unknown_app(client_id))
    if not state.client_valid(client_id, secret):
        raise bad_secret(client_id)
    return client_id


def _tokens(state: SandboxState, client_id: str, form: Mapping[str, str]) -> TokenSet:
    grant_type = form.get("grant_type", "")
    if grant_type not in ("authorization_code", "refresh_token"):
        words = (
            f"The provided value for the input parameter 'grant_type' is not valid: {grant_type}"
        )
        raise EntraError(400, "unsupported_grant_type", 70003, words)
    for name in ("scope", "code" if grant_type == "authorization_code" else "refresh_token"):
        if not form.get(name):
            words = f"The request body must contain the following parameter: '{name}'."
            raise EntraError(400, "invalid_request", 900144, words)
    if grant_type == "refresh_token":
        return state.refresh(client_id=client_id, refresh_token=form["refresh_token"])
    return state.exchange_code(
        client_id=client_id,
        code=form["code"],
        redirect_uri=form.get("redirect_uri", ""),
        code_verifier=form.get("code_verifier"),
        rules=RULES,
    )


def _answer(tokens: TokenSet) -> dict[str, object]:
    """The identity platform's token answer: the resource's scopes, both lifetimes of the access
    token, and a refresh token only when `offline_access` was granted (never its lifetime)."""
    granted = tokens.scope.split()
    body: dict[str, object] = {
        "token_type": "Bearer",
        "scope": " ".join(s for s in granted if s.startswith("https://")),
        "expires_in": tokens.expires_in,
        "ext_expires_in": tokens.expires_in,
        "access_token": tokens.access_token,
    }
    if tokens.refresh_token is not None and "offline_access" in granted:
        body["refresh_token"] = tokens.refresh_token
    return body


@login.post("/token")
async def token(request: Request, tenant: str) -> Response:
    """A code, or a refresh token, for tokens; every refresh hands out a new refresh token."""
    form = await _form(request)
    state = sandbox_state(request)
    grant_type = form.get("grant_type", "")
    username = _token_caller(state, grant_type, form)
    if grant_type in _TOKEN_CALL_KINDS:
        count_call(request, _TOKEN_CALL_KINDS[grant_type], username)
    try:
        await apply_faults(state, username)
    except FaultError as fault:
        return fault_error(fault).response()
    if not TENANT.match(tenant):
        return EntraError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.").response()
    try:
        tokens = _tokens(state, _client(state, request, form), form)
    except OAuthError as error:
        return grant_refused(state, error, form).response()
    return JSONResponse(_answer(tokens), headers=_NO_STORE)
