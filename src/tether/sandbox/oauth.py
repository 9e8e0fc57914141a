"""OAuth 2.0 authorization server of Sandbox Ads: consent page, token and revocation endpoints."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from tether.sandbox.faults import apply_faults, count_call, sandbox_state
from tether.sandbox.state import OAuthError, SandboxState

# Parameters of the authorization request that the consent form carries through the POST.
_FORM_ONLY = {"username", "password", "decision"}
# RFC 7636 §4.1/§4.2: an S256 challenge is 43-128 unreserved characters.
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_TOKEN_CALL_KINDS = {"authorization_code": "token_exchange", "refresh_token": "token_refresh"}

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(prefix="/oauth")


async def oauth_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """RFC 6749 §5.2 error body; `invalid_client` is a 401 with a Basic challenge."""
    assert isinstance(exc, OAuthError)
    headers = dict(_NO_STORE)
    status = 400
    if exc.error == "invalid_client":
        status = 401
        headers["WWW-Authenticate"] = 'Basic realm="sandbox"'
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, status_code=status, headers=headers)


def oauth_error(
    status: int, error: str, description: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An RFC 6749 §5.2 refusal in whatever words a platform's token endpoint uses."""
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers={**_NO_STORE, **(headers or {})})


def with_query(uri: str, params: Mapping[str, str | None]) -> str:
    """`uri` with `params` added to whatever query it already has."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _redirect(uri: str, params: Mapping[str, str | None]) -> RedirectResponse:
    return RedirectResponse(with_query(uri, params), status_code=302, headers=_NO_STORE)


def _error_redirect(params: Mapping[str, str], error: str, description: str) -> RedirectResponse:
    extra = {"error": error, "error_description": description, "state": params.get("state")}
    return _redirect(params["redirect_uri"], extra)


def _fatal_problem(state: SandboxState, params: Mapping[str, str]) -> str | None:
    """Problems that make redirecting unsafe (RFC 6749 §4.1.2.1): show them instead."""
    client_id = params.get("client_id", "")
    if not client_id:
        return "The request has no client_id."
    if not state.client_known(client_id):
        return f"No application is registered with client id {client_id!r}."
    if not params.get("redirect_uri"):
        return "The request has no redirect_uri."
    return None


def _request_problem(params: Mapping[str, str]) -> tuple[str, str] | None:
    """Problems reported back to the client through its redirect URI."""
    if params.get("response_type") != "code":
        return "unsupported_response_type", "Only response_type=code is supported."
    if not params.get("code_challenge"):
        return "invalid_request", "PKCE is required: code_challenge is missing."
    if params.get("code_challenge_method") != "S256":
        return "invalid_request", "code_challenge_method must be S256."
    if not _CHALLENGE.match(params["code_challenge"]):
        return "invalid_request", "code_challenge is not a valid S256 challenge."
    return None


def _page(
    request: Request, params: Mapping[str, str], *, error: str | None = None, status: int = 200
) -> Response:
    hidden = [(k, v) for k, v in params.items() if k not in _FORM_ONLY]
    context = {
        "client_id": params.get("client_id", ""),
        "scope": params.get("scope") or "ads.read",
        "hidden": hidden,
        "error": error,
        "username": params.get("username", ""),
    }
    # A password form must not be framed by another site (clickjacking).
    headers = {**_NO_STORE, "X-Frame-Options": "DENY"}
    return templates.TemplateResponse(
        request, "consent.html", context, status_code=status, headers=headers
    )


def _fatal_page(request: Request, message: str) -> Response:
    context = {"fatal": message}
    return templates.TemplateResponse(request, "consent.html", context, status_code=400)


@router.get("/authorize", response_model=None)
async def authorize_page(request: Request) -> Response:
    """Consent page for an authorization-code request with PKCE."""
    params = dict(request.query_params)
    fatal = _fatal_problem(sandbox_state(request), params)
    if fatal is not None:
        return _fatal_page(request, fatal)
    problem = _request_problem(params)
    if problem is not None:
        return _error_redirect(params, *problem)
    return _page(request, params)


@router.post("/authorize", response_model=None)
async def authorize_decision(request: Request) -> Response:
    """The user's answer on the consent page."""
    params = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    state = sandbox_state(request)
    fatal = _fatal_problem(state, params)
    if fatal is not None:
        return _fatal_page(request, fatal)
    problem = _request_problem(params)
    if problem is not None:
        return _error_redirect(params, *problem)
    decision = params.get("decision")
    if decision == "deny":
        return _error_redirect(params, "access_denied", "The user denied access.")
    if decision != "allow":
        return _error_redirect(params, "invalid_request", "The consent decision is missing.")
    user = state.authenticate(params.get("username", ""), params.get("password", ""))
    if user is None:
        return _page(request, params, error="Wrong username or password.", status=401)
    code = state.issue_code(
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        code_challenge=params["code_challenge"],
        user_id=user.id,
        scope=params.get("scope") or "ads.read",
    )
    return _redirect(params["redirect_uri"], {"code": code, "state": params.get("state")})


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, sep, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "The Basic credentials are malformed.") from None
    if not sep:
        raise OAuthError("invalid_client", "The Basic credentials are malformed.")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
    return unquote_plus(client_id), unquote_plus(secret)


def _authenticate_client(request: Request, form: Mapping[str, str]) -> str:
    credentials = _basic_credentials(request)
    if credentials is None:
        credentials = (form.get("client_id", ""), form.get("client_secret", ""))
    client_id, secret = credentials
    if not sandbox_state(request).client_valid(client_id, secret):
        raise OAuthError("invalid_client", "Client authentication failed.")
    return client_id


async def _form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


def _token_caller(state: SandboxState, grant_type: str, form: Mapping[str, str]) -> str | None:
    """Username of the grant a token request is about, if the code or token is known."""
    if grant_type == "authorization_code":
        return state.code_owner(form.get("code", ""))
    if grant_type == "refresh_token":
        return state.token_owner(form.get("refresh_token", ""), refresh_only=True)
    return None


@router.post("/token")
async def token(request: Request) -> JSONResponse:
    """Exchange an authorization code or a refresh token for tokens."""
    form = await _form(request)
    state = sandbox_state(request)
    grant_type = form.get("grant_type", "")
    username = _token_caller(state, grant_type, form)
    if grant_type in _TOKEN_CALL_KINDS:
        count_call(request, _TOKEN_CALL_KINDS[grant_type], username)
    # Faults come first, in the OAuth error shape that OAuth clients parse.
    await apply_faults(state, username, oauth_style=True)
    client_id = _authenticate_client(request, form)
    if grant_type == "authorization_code":
        tokens = state.exchange_code(
            client_id=client_id,
            code=form.get("code", ""),
            redirect_uri=form.get("redirect_uri", ""),
            code_verifier=form.get("code_verifier"),
        )
    elif grant_type == "refresh_token":
        if not form.get("refresh_token"):
            raise OAuthError("invalid_request", "The refresh_token parameter is missing.")
        tokens = state.refresh(client_id=client_id, refresh_token=form["refresh_token"])
    elif not grant_type:
        raise OAuthError("invalid_request", "The grant_type parameter is missing.")
    else:
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported.")
    return JSONResponse(tokens.as_json(), headers=_NO_STORE)


@router.post("/revoke")
async def revoke(request: Request) -> Response:
    """RFC 7009 revocation: 200 whether or not the token was known."""
    form = await _form(request)
    state = sandbox_state(request)
    count_call(request, "revoke", state.token_owner(form.get("token", "")))
    client_id = _authenticate_client(request, form)
    if not form.get("token"):
        raise OAuthError("invalid_request", "The token parameter is missing.")
    state.revoke_token(form["token"], client_id)
    return Response(status_code=200)
