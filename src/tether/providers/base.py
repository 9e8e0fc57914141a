"""The one small interface every provider adapter implements."""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class AuthKind(StrEnum):
    OAUTH2 = "oauth2"
    # Signing in too, with OAuth 1.0a's request token and signed calls (X).
    OAUTH1 = "oauth1"
    API_KEY = "api_key"


class Reason(StrEnum):
    """Why a provider call failed, in Tether's words (see DESIGN.md, Status)."""

    TOKEN_EXPIRED = "token_expired"
    TOKEN_REVOKED = "token_revoked"
    PASSWORD_CHANGED = "password_changed"
    ACCESS_REMOVED = "access_removed"
    SCOPE_MISSING = "scope_missing"
    INVALID_API_KEY = "invalid_api_key"
    ACCESS_DENIED = "access_denied"
    INVALID_GRANT = "invalid_grant"
    PROVIDER_OUTAGE = "provider_outage"
    RATE_LIMITED = "rate_limited"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TokenGrant:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    scope: str | None = None
    # When the refresh token itself ends, whatever Tether does (e.g. LinkedIn's 365 days).
    refresh_expires_at: datetime | None = None
    # OAuth 1.0a: the secret every call signs with, beside the token (X).
    token_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a call to the provider presents: an access token (with its secret, for OAuth 1.0a's
    signed calls) or an API key."""

    access_token: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    token_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Identity:
    """The provider-side user behind a grant."""

    external_user_id: str
    name: str
    email: str | None = None


@dataclass(frozen=True, slots=True)
class ExternalAccount:
    external_id: str
    name: str
    currency: str | None = None
    # The manager account this one is reached through (Google Ads' login-customer-id).
    manager_id: str | None = None


@dataclass(frozen=True, slots=True)
class DailyMetrics:
    day: date
    impressions: int
    clicks: int
    spend: Decimal
    conversions: int
    currency: str | None = None


class ProviderCallError(Exception):
    """A provider refused or failed a call. `message` is the provider's own words."""

    def __init__(
        self,
        reason: Reason,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Consent:
    """A started sign-in: where the member's browser goes, and what the attempt keeps for the
    callback. OAuth 2.0 names the attempt with Tether's own `state` and keeps the PKCE verifier;
    OAuth 1.0a names it with the request token the platform issued (the callback brings it back
    as `oauth_token`) and keeps that token's secret."""

    url: str
    handle: str = field(repr=False)
    # Sealed with the attempt until the callback; never in a URL.
    secret: str = field(repr=False)


class OAuthAdapter(Protocol):
    def authorize_url(self, *, state: str, code_verifier: str, redirect_uri: str) -> str: ...

    async def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant: ...

    async def start_consent(
        self, *, state: str, code_verifier: str, redirect_uri: str
    ) -> Consent: ...

    async def finish_consent(
        self, *, handle: str, secret: str, code: str, redirect_uri: str
    ) -> TokenGrant: ...

    async def refresh(self, *, refresh_token: str) -> TokenGrant: ...

    async def revoke(self, *, token: str, token_secret: str | None = None) -> None: ...


class ProviderAdapter(Protocol):
    """Calls that every provider answers, whatever its auth kind."""

    async def probe(self, credentials: Credentials) -> None: ...

    async def identify(self, credentials: Credentials) -> Identity: ...

    async def list_accounts(self, credentials: Credentials) -> list[ExternalAccount]: ...

    async def fetch_daily(
        self,
        credentials: Credentials,
        *,
        account_id: str,
        start: date,
        end: date,
        manager_id: str | None = None,
    ) -> list[DailyMetrics]: ...
