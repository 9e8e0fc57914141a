"""Records of the sandbox's OAuth server: grants, codes, token sets and the checks on codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any

from tether.sandbox.common import OAuthError

CODE_LIFETIME = 600
DEFAULT_SCOPE = "ads.read"
DEFAULT_CLIENTS = {"tether": "tether-sandbox-secret"}
# Old access tokens stay valid after a refresh (as on real platforms); only the newest few are
# remembered so that a benchmark refreshing in a loop does not grow memory without bound.
KEPT_ACCESS_TOKENS = 5

REVOKE_DESCRIPTIONS = {
    "token_revoked": "The grant was revoked.",
    "password_changed": "The grant was revoked because the user changed their password.",
    "code_reused": "The grant was revoked because its authorization code was used twice.",
}
EXPIRED_DESCRIPTION = "The refresh token has expired."
IDLE_DESCRIPTION = "The refresh token has expired because it was not used for too long."
REPLACED_DESCRIPTION = "This refresh token was already rotated and replaced."
REUSE_DETECTED_DESCRIPTION = (
    f"{REPLACED_DESCRIPTION} Reusing a replaced refresh token revoked the whole grant."
)


@dataclass(frozen=True)
class TokenRules:
    """A dialect's own token rules, whatever the world's settings say (a platform's tokens
    live as that platform's do: Meta's an hour, LinkedIn's 60 days with a 365-day refresh)."""

    access_seconds: int
    refreshable: bool = True
    # The refresh token ends this long after the first consent; refreshing does not extend it.
    refresh_fixed_seconds: int | None = None
    # The refresh token ends this long after it was last used (Microsoft's 90 days).
    refresh_idle_seconds: int | None = None
    # Every refresh hands out a new refresh token.
    rotate: bool = False


@dataclass
class Grant:
    id: str
    user_id: str
    client_id: str
    scope: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    access_expires_at: float
    refresh_expires_at: float | None
    created_at: float
    revoked_reason: str | None = None
    # Rotation: the refresh token that `refresh_token` replaced stays usable until the client
    # shows it has the successor (by using it, or an access token issued alongside it).
    previous_refresh_token: str | None = field(default=None, repr=False)
    # Bumped whenever a new refresh token is issued; access tokens remember theirs.
    generation: int = 0
    # A dialect's rules; None follows the world's settings.
    rules: TokenRules | None = None
    # OAuth 1.0a (X's dialect): the secret the grant's access token signs every call with.
    token_secret: str | None = field(default=None, repr=False)


@dataclass
class AuthCode:
    code: str = field(repr=False)
    client_id: str
    redirect_uri: str
    code_challenge: str
    user_id: str
    scope: str
    expires_at: float
    used: bool = False
    grant_id: str | None = None


@dataclass(frozen=True)
class TokenSet:
    grant_id: str
    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str | None = field(repr=False)
    refresh_token_expires_in: int | None
    scope: str

    def as_json(self) -> dict[str, Any]:
        """Body of a successful RFC 6749 token response."""
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        if self.refresh_token_expires_in is not None:
            body["refresh_token_expires_in"] = self.refresh_token_expires_in
        return body


@dataclass
class AccessRecord:
    grant_id: str
    expires_at: float
    # The grant's generation when issued: using it proves the client holds that refresh token.
    generation: int = 0


@dataclass
class RefreshRecord:
    """Every refresh token ever issued; whether it is current, in grace or replaced is read
    from its grant."""

    grant_id: str


def pkce_challenge(verifier: str) -> str:
    """S256 code challenge of a PKCE code verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_code(record: AuthCode, client_id: str, redirect_uri: str, verifier: str | None) -> None:
    """Refuse a code redeemed late, by another client, elsewhere or without its PKCE verifier."""
    if time.time() >= record.expires_at:
        raise OAuthError("invalid_grant", "The authorization code has expired.")
    if record.client_id != client_id:
        raise OAuthError("invalid_grant", "The authorization code was issued to another client.")
    if record.redirect_uri != redirect_uri:
        raise OAuthError(
            "invalid_grant", "The redirect_uri differs from the one in the authorization request."
        )
    if not record.code_challenge:
        return  # issued without PKCE, where a dialect's platform makes it optional (Meta)
    if not verifier:
        raise OAuthError("invalid_request", "The code_verifier parameter is missing.")
    if not hmac.compare_digest(pkce_challenge(verifier), record.code_challenge):
        raise OAuthError("invalid_grant", "The code_verifier does not match the code_challenge.")
