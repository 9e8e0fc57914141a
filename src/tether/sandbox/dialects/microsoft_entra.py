"""The Microsoft identity platform's errors in the sandbox: OAuth's `error` with a description
that starts with an AADSTS code and ends with the trace and correlation ids support asks for, and
the sandbox's refusals of codes and refresh tokens in those words (the identity platform's error
reference; the advertising guides' examples).
"""

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from fastapi.responses import JSONResponse

from tether.sandbox.faults import FaultError
from tether.sandbox.oauth import _NO_STORE
from tether.sandbox.state import OAuthError, SandboxError, SandboxState
from tether.sandbox.tokens import EXPIRED_DESCRIPTION, IDLE_DESCRIPTION, REVOKE_DESCRIPTIONS


class EntraError(Exception):
    """An error of the Microsoft identity platform: OAuth's `error`, and a description that
    starts with its AADSTS code and ends with the ids support asks for."""

    def __init__(
        self,
        status: int,
        error: str,
        code: int,
        words: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(words)
        self.status, self.error, self.code, self.words = status, error, code, words
        self.headers = dict(headers or {})

    def body(self) -> dict[str, object]:
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        description = (
            f"AADSTS{self.code}: {self.words}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {now}"
        )
        return {
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }

    def response(self) -> JSONResponse:
        headers = {**_NO_STORE, **self.headers}
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


INACTIVE = (
    "The refresh token has expired due to inactivity. The token was issued on {issued} and was "
    "inactive for 90.00:00:00."
)
REVOKED = (
    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The "
    "user might have changed or reset their password. The grant was issued on '{issued}' and "
    "the TokensValidFrom date (before which tokens are not valid) for this user is '{now}'."
)
NOT_CONSENTED = (
    "The user or administrator has not consented to use the application with ID '{client}' "
    "named '{client}'. Send an interactive authorization request for this user and resource."
)
INVALID_REFRESH = "Authentication failed. The refresh token isn't valid."
CODE_EXPIRED = (
    "The provided authorization code or refresh token has expired due to inactivity. Send a new "
    "interactive authorization request for this user and resource."
)
CODE_REDEEMED = (
    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use "
    "an existing refresh token."
)
VERIFIER = (
    "The Code_Verifier does not match the code_challenge supplied in the authorization request."
)
INVALID_CODE = "Authentication failed. The authorization code isn't valid."


def grant_refused(state: SandboxState, error: OAuthError, form: Mapping[str, str]) -> EntraError:
    """A refusal of the sandbox's grants, as the identity platform words it."""
    if error.error == "invalid_client":
        return bad_secret(form.get("client_id", ""))
    if form.get("grant_type") == "refresh_token":
        return _refresh_refused(state, error, form)
    if "expired" in error.description:
        return EntraError(400, "invalid_grant", 70008, CODE_EXPIRED)
    if "already used" in error.description:
        return EntraError(400, "invalid_grant", 54005, CODE_REDEEMED)
    if "code_verifier" in error.description:
        return EntraError(400, "invalid_grant", 501481, VERIFIER)
    return EntraError(400, "invalid_grant", 70000, INVALID_CODE)


def _refresh_refused(state: SandboxState, error: OAuthError, form: Mapping[str, str]) -> EntraError:
    issued = _issued(state, form.get("refresh_token", ""))
    now = datetime.now(UTC).strftime("%m/%d/%Y %H:%M:%S")
    if error.description in (IDLE_DESCRIPTION, EXPIRED_DESCRIPTION):
        return EntraError(400, "invalid_grant", 700082, INACTIVE.format(issued=issued))
    if error.description == REVOKE_DESCRIPTIONS["password_changed"]:
        return EntraError(400, "invalid_grant", 50173, REVOKED.format(issued=issued, now=now))
    if error.description == REVOKE_DESCRIPTIONS["token_revoked"]:
        words = NOT_CONSENTED.format(client=form.get("client_id", ""))
        return EntraError(400, "invalid_grant", 65001, words)
    return EntraError(400, "invalid_grant", 70000, INVALID_REFRESH)


def _issued(state: SandboxState, refresh_token: str) -> str:
    try:
        grant = state.grant_holding(refresh_token)
    except SandboxError:
        return "an unknown date"
    return datetime.fromtimestamp(grant.created_at, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def bad_secret(client_id: str) -> EntraError:
    words = (
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        f"client secret value, not the client secret ID, for a secret added to app '{client_id}'."
    )
    return EntraError(401, "invalid_client", 7000215, words)


def unknown_app(client_id: str) -> str:
    return (
        f"Application with identifier '{client_id}' was not found in the directory. This can "
        "happen if the application has not been installed by the administrator of the tenant or "
        "consented to by any user in the tenant."
    )


def fault_error(fault: FaultError) -> EntraError:
    """A sandbox switch at the token endpoint: throttled, with `Retry-After` (assumed); down."""
    if fault.code == "rate_limited":
        words = "There are too many incoming requests. Please try again later."
        return EntraError(429, "temporarily_unavailable", 90055, words, fault.headers)
    return EntraError(
        503, "temporarily_unavailable", 90006, "The service is temporarily unavailable."
    )
