"""The one small interface every provider adapter implements."""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class AuthKind(StrEnum):
    OAUTH2 = "oauth2"
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


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a call to the provider presents: an access token or an API key."""

    access_token: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)


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


class OAuthAdapter(Protocol):
    def authorize_url(self, *, state: str, code_verifier: str, redirect_uri: str) -> str: ...

    async def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant: ...

    async def refresh(self, *, refresh_token: str) -> TokenGrant: ...

    async def revoke(self, *, token: str) -> None: ...


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
