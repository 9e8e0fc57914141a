"""The ad-platform API under `/api/v1`, and the JSON error shape shared by the sandbox."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tether.sandbox.faults import FaultError, apply_faults, count_call, sandbox_state
from tether.sandbox.metrics import account_metrics, parse_range, served_days
from tether.sandbox.state import SandboxError, SandboxState, SandboxUser

MAX_PAGE_SIZE = 1000
STATUS_BY_CODE = {
    "invalid_request": 400,
    "invalid_token": 401,
    "token_expired": 401,
    "token_revoked": 401,
    "password_changed": 401,
    "invalid_api_key": 401,
    "access_removed": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "rate_limited": 429,
    "unavailable": 503,
}
_BEARER_CODES = {"invalid_token", "token_expired", "token_revoked", "password_changed"}

router = APIRouter(prefix="/api/v1")


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """`{"error": {"code", "message"}}` with the given status."""
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


async def sandbox_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Render a `SandboxError` (including faults) in the API error shape."""
    assert isinstance(exc, SandboxError)
    status = STATUS_BY_CODE.get(exc.code, 400)
    headers = dict(exc.headers) if isinstance(exc, FaultError) else {}
    if isinstance(exc, FaultError) and exc.oauth_style:
        error = "temporarily_unavailable" if exc.code == "unavailable" else exc.code
        body = {"error": error, "error_description": exc.message}
        return JSONResponse(
            body, status_code=status, headers={**headers, "Cache-Control": "no-store"}
        )
    if exc.code in _BEARER_CODES:
        # RFC 6750 §3: a 401 on a bearer-protected resource names the scheme and the error.
        headers["WWW-Authenticate"] = 'Bearer realm="sandbox", error="invalid_token"'
    return error_response(status, exc.code, exc.message, headers)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 becomes the sandbox's 400 `invalid_request`."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("query", "body"))
    message = f"Invalid {where or 'request'}: {first.get('msg', 'bad value')}."
    return error_response(400, "invalid_request", message)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Unknown paths and wrong methods also answer in the sandbox error shape."""
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error_response(
        exc.status_code, codes.get(exc.status_code, "error"), str(exc.detail), exc.headers
    )


def _identify(request: Request, state: SandboxState) -> SandboxUser:
    """The caller, from `Authorization: Bearer` or, failing that, `X-Api-Key`."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise SandboxError(
                "invalid_token", "The Authorization header must be 'Bearer <token>'."
            )
        return state.user_for_access_token(token.strip())
    api_key = request.headers.get("x-api-key")
    if api_key is not None:
        return state.user_for_api_key(api_key)
    raise SandboxError("invalid_token", "No access token or API key was sent.")


def caller(kind: str) -> Callable[[Request], Awaitable[SandboxUser]]:
    """Dependency of a `kind` route: identifies the caller, counts the call, applies faults."""

    async def current_user(request: Request) -> SandboxUser:
        state = sandbox_state(request)
        count_call(request, kind, None)
        try:
            user = _identify(request, state)
        except SandboxError:
            # A platform that is down or throttling says so before it looks at credentials.
            await apply_faults(state, None)
            raise
        count_call(request, kind, user.username)
        await apply_faults(state, user.username)
        return user

    return current_user


@router.get("/me")
async def me(user: Annotated[SandboxUser, Depends(caller("me"))]) -> dict[str, str]:
    """The authenticated user."""
    return {"id": user.id, "username": user.username, "name": user.name, "email": user.email}


def _encode_cursor(account_id: str | None) -> str | None:
    if account_id is None:
        return None
    return base64.urlsafe_b64encode(account_id.encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> str | None:
    if not token:
        return None
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise SandboxError("invalid_request", "The page_token is not valid.") from None


@router.get("/accounts")
async def accounts(
    request: Request,
    user: Annotated[SandboxUser, Depends(caller("accounts"))],
    page_size: int = 100,
    page_token: str = "",
) -> dict[str, Any]:
    """The accounts the user reaches now, paginated by an opaque cursor."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise SandboxError("invalid_request", f"page_size must be between 1 and {MAX_PAGE_SIZE}.")
    page, last = sandbox_state(request).page_accounts(
        user.id, page_size, _decode_cursor(page_token)
    )
    return {
        "accounts": [{"id": a.id, "name": a.name, "currency": a.currency} for a in page],
        "next_page_token": _encode_cursor(last),
    }


@router.get("/accounts/{account_id}/metrics")
async def metrics(
    request: Request,
    user: Annotated[SandboxUser, Depends(caller("metrics"))],
    account_id: str,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """Daily impressions, clicks, spend and conversions of one account."""
    state = sandbox_state(request)
    account = state.account_for(user.id, account_id)
    first, last = parse_range(start, end)
    return account_metrics(account, served_days(first, last, state.settings.history_days))
