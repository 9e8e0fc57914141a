"""The adapter for Tether's sandbox ad platform, over HTTP like any real provider."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx

from tether.providers.base import (
    Credentials,
    DailyMetrics,
    ExternalAccount,
    Identity,
    ProviderCallError,
    Reason,
    TokenGrant,
)

# The sandbox's error codes, and Tether's reasons for them.
_REASONS = {
    "token_expired": Reason.TOKEN_EXPIRED,
    "token_revoked": Reason.TOKEN_REVOKED,
    "invalid_token": Reason.TOKEN_REVOKED,
    "password_changed": Reason.PASSWORD_CHANGED,
    "access_removed": Reason.ACCESS_REMOVED,
    "invalid_api_key": Reason.INVALID_API_KEY,
    "rate_limited": Reason.RATE_LIMITED,
    "unavailable": Reason.PROVIDER_OUTAGE,
    "invalid_grant": Reason.INVALID_GRANT,
    "invalid_client": Reason.UNKNOWN,
    "access_denied": Reason.ACCESS_DENIED,
}
_SCOPE = "accounts:read metrics:read"


class SandboxAdapter:
    """OAuth2 and API-key access to the sandbox; `base_url` points at its root."""

    def __init__(
        self, http: httpx.AsyncClient, *, base_url: str, client_id: str, client_secret: str
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
                "scope": _SCOPE,
            }
        )
        return f"{self._base}/oauth/authorize?{query}"

    async def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": code_verifier,
            "redirect_uri": redirect_uri,
        }
        return _grant(await self._token(form))

    async def refresh(self, *, refresh_token: str) -> TokenGrant:
        body = await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})
        return _grant(body)

    async def revoke(self, *, token: str) -> None:
        await self._call("POST", "/oauth/revoke", data={"token": token, **self._client()})

    async def probe(self, credentials: Credentials) -> Identity:
        body = await self._call("GET", "/api/v1/me", headers=_auth(credentials))
        return Identity(body["id"], body.get("name") or body["id"], body.get("email"))

    async def list_accounts(self, credentials: Credentials) -> list[ExternalAccount]:
        accounts: list[ExternalAccount] = []
        page_token: str | None = None
        while True:
            params = {"page_size": "1000", **({"page_token": page_token} if page_token else {})}
            body = await self._call(
                "GET", "/api/v1/accounts", headers=_auth(credentials), params=params
            )
            accounts += [
                ExternalAccount(str(a["id"]), a["name"], a.get("currency"))
                for a in body["accounts"]
            ]
            page_token = body.get("next_page_token")
            if not page_token:
                return accounts

    async def fetch_daily(
        self, credentials: Credentials, *, account_id: str, start: date, end: date
    ) -> list[DailyMetrics]:
        body = await self._call(
            "GET",
            f"/api/v1/accounts/{account_id}/metrics",
            headers=_auth(credentials),
            params={"start": start.isoformat(), "end": end.isoformat()},
        )
        currency = body.get("currency")
        return [
            DailyMetrics(
                date.fromisoformat(day["date"]),
                int(day["impressions"]),
                int(day["clicks"]),
                Decimal(str(day["spend"])),
                int(day["conversions"]),
                currency,
            )
            for day in body["days"]
        ]

    def classify_error(self, status: int, body: Any) -> tuple[Reason, str]:
        """Tether's reason and the provider's own message for a failed response."""
        code, message = _error_of(body)
        if code == "invalid_grant":
            return _invalid_grant_reason(message), message
        if code in _REASONS:
            return _REASONS[code], message
        if status == 429:
            return Reason.RATE_LIMITED, message
        if status >= 500:
            return Reason.PROVIDER_OUTAGE, message
        return Reason.UNKNOWN, message

    def _client(self) -> dict[str, str]:
        return {"client_id": self._client_id, "client_secret": self._client_secret}

    async def _token(self, form: dict[str, str]) -> dict[str, Any]:
        return await self._call("POST", "/oauth/token", data={**form, **self._client()})

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, self._base + path, **kwargs)
        except httpx.TimeoutException:
            raise ProviderCallError(
                Reason.PROVIDER_OUTAGE, "Sandbox Ads did not answer in time."
            ) from None
        except httpx.TransportError as error:
            raise ProviderCallError(
                Reason.PROVIDER_OUTAGE,
                f"Sandbox Ads could not be reached ({type(error).__name__}).",
            ) from None
        body = _json(response)
        if response.is_success:
            return body
        reason, message = self.classify_error(response.status_code, body)
        raise ProviderCallError(
            reason,
            message,
            status=response.status_code,
            retry_after=_retry_after(response),
        )


def _invalid_grant_reason(description: str) -> Reason:
    # OAuth has one error for every dead grant; its description says which death it was.
    text = description.lower()
    if "password" in text:
        return Reason.PASSWORD_CHANGED
    if "expired" in text:
        return Reason.TOKEN_EXPIRED
    return Reason.TOKEN_REVOKED


def _auth(credentials: Credentials) -> dict[str, str]:
    if credentials.api_key is not None:
        return {"X-Api-Key": credentials.api_key}
    return {"Authorization": f"Bearer {credentials.access_token}"}


def _grant(body: dict[str, Any]) -> TokenGrant:
    expires_in = body.get("expires_in")
    expires_at = (
        datetime.now(UTC) + timedelta(seconds=int(expires_in)) if expires_in is not None else None
    )
    return TokenGrant(
        body["access_token"], body.get("refresh_token"), expires_at, body.get("scope")
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_of(body: dict[str, Any]) -> tuple[str, str]:
    error = body.get("error")
    if isinstance(error, dict):  # the API's {"error": {"code", "message"}}
        return str(error.get("code", "")), str(error.get("message", ""))
    if isinstance(error, str):  # OAuth's {"error", "error_description"}
        return error, str(body.get("error_description") or error)
    return "", "Sandbox Ads answered with an error and no message."


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
