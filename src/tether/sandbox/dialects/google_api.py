"""What every Google API of the sandbox's Google dialect shares: Google's error body
(google.rpc.Status), routes that answer every refusal in it, and the bearer caller with the
sandbox's faults applied. `dialects/google.py` re-exports these for the product routers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from tether.sandbox.faults import FaultError, apply_faults, count_call, sandbox_state
from tether.sandbox.state import SandboxError, SandboxState, SandboxUser

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
# The sandbox's refusals of a bearer token.
AUTH_CODES = frozenset({"invalid_token", "token_expired", "token_revoked", "password_changed"})
INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
INSUFFICIENT_SCOPES = "Request had insufficient authentication scopes."
UNAVAILABLE = "The service is currently unavailable."
QUOTA_EXHAUSTED = "Resource has been exhausted (e.g. check quota)."
INVALID_ARGUMENT = "Request contains an invalid argument."
GOOGLE_SCOPES = "https://www.googleapis.com/auth/"


def google_error(
    status_code: int,
    status: str,
    message: str,
    details: Iterable[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """`{"error": {"code", "message", "status", "details"?}}`, as every Google API answers."""
    error: dict[str, Any] = {"code": status_code, "message": message, "status": status}
    listed = list(details or ())
    if listed:
        error["details"] = listed
    return JSONResponse({"error": error}, status_code=status_code, headers=dict(headers or {}))


class GoogleApiError(Exception):
    """A refusal in Google's shape, raised anywhere in a Google route."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        details: Iterable[Mapping[str, Any]] = (),
        status: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.details = list(details)
        self.status = status if status is not None else STATUS_NAMES.get(code, "UNKNOWN")
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return google_error(self.code, self.status, self.message, self.details, self.headers)


# How one Google product words a sandbox refusal (a lapse, a fault, a bad parameter).
Refusal = Callable[[Request, SandboxError], GoogleApiError]


def plain_refusal(request: Request, error: SandboxError) -> GoogleApiError:
    """A sandbox refusal as any Google API words it, without product details."""
    if error.code in AUTH_CODES:
        return GoogleApiError(401, INVALID_CREDENTIALS)
    if error.code == "insufficient_scope":
        return GoogleApiError(403, INSUFFICIENT_SCOPES, details=[scope_info(request)])
    if error.code in ("access_removed", "not_found"):
        return GoogleApiError(403, "The caller does not have permission")
    if error.code == "rate_limited":
        return GoogleApiError(429, QUOTA_EXHAUSTED, headers=fault_headers(error))
    if error.code == "unavailable":
        return GoogleApiError(503, UNAVAILABLE)
    if error.code == "invalid_request":
        return GoogleApiError(400, error.message)
    return GoogleApiError(500, "Internal error encountered.")


def scope_info(request: Request) -> dict[str, Any]:
    """The ErrorInfo Google adds to a refusal for missing scopes."""
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        "domain": "googleapis.com",
        "metadata": {"method": request.url.path},
    }


def google_route(refusal: Refusal) -> type[APIRoute]:
    """A route class whose every refusal answers in the product's own error shape, whatever
    exception handlers the app around it has."""

    class GoogleRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def answer(request: Request) -> Response:
                try:
                    return await handler(request)
                except GoogleApiError as error:
                    return error.response()
                except SandboxError as error:
                    return refusal(request, error).response()
                except RequestValidationError as error:
                    invalid = SandboxError("invalid_request", _invalid(error))
                    return refusal(request, invalid).response()

            return answer

    return GoogleRoute


def _invalid(error: RequestValidationError) -> str:
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
    return f"Invalid value at '{where or 'request'}': {first.get('msg', 'bad value')}."


def fault_headers(error: SandboxError) -> dict[str, str]:
    """The headers a fault carries (Retry-After of a throttle)."""
    return dict(error.headers) if isinstance(error, FaultError) else {}


def retry_seconds(error: SandboxError) -> int:
    """How long a throttle fault asks to wait."""
    try:
        return int(fault_headers(error).get("Retry-After", "30"))
    except ValueError:
        return 30


async def authenticate(request: Request, kind: str, scopes: tuple[str, ...] = ()) -> SandboxUser:
    """The bearer's user, the call counted as `kind`, faults applied, and the product's
    scopes required of a grant made on Google's consent page; raises SandboxError."""
    state = sandbox_state(request)
    count_call(request, kind, None)
    token = bearer(request)
    try:
        if token is None:
            raise SandboxError("invalid_token", "No access token was sent.")
        user = state.user_for_access_token(token)
    except SandboxError:
        # A platform that is down or throttling says so before it looks at credentials.
        await apply_faults(state, None)
        raise
    count_call(request, kind, user.username)
    await apply_faults(state, user.username)
    require_scopes(state, user, token, scopes)
    return user


def google_caller(
    kind: str, scopes: tuple[str, ...] = ()
) -> Callable[[Request], Awaitable[SandboxUser]]:
    """`authenticate` as a route dependency."""

    async def current_user(request: Request) -> SandboxUser:
        return await authenticate(request, kind, scopes)

    return current_user


def bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_scopes(
    state: SandboxState, user: SandboxUser, token: str, scopes: tuple[str, ...]
) -> None:
    """Google checks a token's scopes on every call. Only grants made with Google's scopes are
    checked: the sandbox's own consent grants `ads.read`, which stands for everything."""
    for grant in state.grants_for(user.username):
        if grant.access_token != token:
            continue
        granted = set(grant.scope.split())
        if any(s.startswith(GOOGLE_SCOPES) for s in granted) and not granted.issuperset(scopes):
            raise SandboxError("insufficient_scope", INSUFFICIENT_SCOPES)
