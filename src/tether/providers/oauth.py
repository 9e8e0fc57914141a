"""OAuth 2.0 mechanics through Authlib: the consent URL with PKCE, the code exchange, refresh
and revocation, with the token endpoint's client authentication as the definition says.

Authlib's client keeps the last token on itself, so each operation gets a client of its own;
they all share one HTTP transport (and its pool). A failed answer from the token endpoint is
read by the definition's error rules before Authlib parses it, so a lapse there is classified
exactly like one from the API.
"""

import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import authlib.deprecate  # noqa: F401  (it installs an "always" filter of its own on import)
import httpx

with warnings.catch_warnings():
    # Authlib now prefers httpx2 and warns when it falls back to httpx, which Tether uses
    # throughout (and pins Authlib below 2, where that fallback is kept).
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from tether.providers import answers
from tether.providers.base import ProviderCallError, Reason, TokenGrant
from tether.providers.definition import OAuth, ProviderDefinition
from tether.providers.transport import unreachable

# Token endpoints that answer with HTML or nothing on a bad day still say *something*.
_NOT_JSON: dict[str, Any] = {}


class OAuthClient:
    """One provider's OAuth app: its endpoints (bases resolved), client id and secret."""

    def __init__(
        self,
        definition: ProviderDefinition,
        oauth: OAuth,
        *,
        client_id: str,
        client_secret: str,
        http: httpx.AsyncClient,
    ) -> None:
        self.definition = definition
        self.endpoints = oauth
        self._client_id = client_id
        self._client_secret = client_secret
        self._http = http

    def app_credentials(self) -> tuple[str, str]:
        """The app's id and secret, for a platform whose token calls are not OAuth 2.0 and take
        them in the request itself (TikTok); for that request only, never a log or a message."""
        return self._client_id, self._client_secret

    def _client(self) -> AsyncOAuth2Client:
        # The shared transport keeps the pool; these small clients are never closed, since
        # closing one would close the transport under every other.
        client = AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=self._client_secret,
            token_endpoint_auth_method=self.endpoints.token_auth_method.value,
            revocation_endpoint_auth_method=self.endpoints.token_auth_method.value,
            code_challenge_method="S256" if self.endpoints.pkce else None,
            transport=self._http._transport,  # httpx has no public getter for it
            timeout=self._http.timeout,
        )
        client.register_compliance_hook("access_token_response", self._refused)
        client.register_compliance_hook("refresh_token_response", self._refused)
        return client

    def authorize_url(self, *, state: str, code_verifier: str, redirect_uri: str) -> str:
        """The provider's consent page for this attempt."""
        url, _ = self._client().create_authorization_url(
            self.endpoints.authorize_url,
            state=state,
            code_verifier=code_verifier if self.endpoints.pkce else None,
            redirect_uri=redirect_uri,
            scope=self.endpoints.scope_separator.join(self.endpoints.scopes) or None,
            **self.endpoints.authorize_params,
        )
        return str(url)

    async def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant:
        """Trade an authorization code for a grant."""
        extra = {"code_verifier": code_verifier} if self.endpoints.pkce else {}
        token = await self._calling(
            lambda c: c.fetch_token(
                self.endpoints.token_url,
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                **extra,
            )
        )
        return grant_of(token)

    async def refresh(self, *, refresh_token: str) -> TokenGrant:
        """A new access token (and, where the provider rotates them, a new refresh token)."""
        token = await self._calling(
            lambda c: c.refresh_token(self.endpoints.token_url, refresh_token=refresh_token)
        )
        return grant_of(token)

    async def other_grant(self, grant_type: str, **params: str) -> TokenGrant:
        """A grant of another type at the token endpoint, with the client's authentication
        (e.g. Meta's `fb_exchange_token`, which trades a short-lived token for a long one)."""
        token = await self._calling(
            lambda c: c.fetch_token(self.endpoints.token_url, grant_type=grant_type, **params)
        )
        return grant_of(token)

    async def revoke(self, *, token: str) -> None:
        """Tell the provider Tether no longer holds the grant (RFC 7009)."""
        if self.endpoints.revoke_url is None:
            return
        url = self.endpoints.revoke_url
        response = await self._calling(
            lambda c: c.revoke_token(url, token=token)  # type: ignore[no-untyped-call]
        )
        if isinstance(response, httpx.Response) and not response.is_success:
            raise self.error_of(response)

    async def _calling(self, call: Callable[[AsyncOAuth2Client], Any]) -> Any:
        try:
            return await call(self._client())
        except httpx.HTTPError as error:
            raise unreachable(self.definition.name, error) from None

    def _refused(self, response: httpx.Response) -> httpx.Response:
        """Authlib's hook on every token answer: a refusal becomes a ProviderCallError."""
        body = _json(response)
        if response.is_success and not (isinstance(body, dict) and "error" in body):
            return response
        raise self.error_of(response, body)

    def error_of(self, response: httpx.Response, body: Any = None) -> ProviderCallError:
        body = _json(response) if body is None else body
        return answers.call_error(
            self.definition.errors,
            self.definition.name,
            response.status_code if response.status_code >= 400 else 400,
            body,
            response.headers,
        )


def grant_of(token: Any, now: datetime | None = None) -> TokenGrant:
    """A token endpoint's answer as Tether's grant."""
    if not isinstance(token, dict) or not isinstance(token.get("access_token"), str):
        raise ProviderCallError(Reason.UNKNOWN, "The token answer holds no access token.")
    now = now or datetime.now(UTC)
    return TokenGrant(
        token["access_token"],
        token.get("refresh_token"),
        _after(now, token.get("expires_in")),
        token.get("scope") if isinstance(token.get("scope"), str) else None,
        _after(now, token.get("refresh_token_expires_in")),
    )


def _after(now: datetime, seconds: Any) -> datetime | None:
    try:
        return now + timedelta(seconds=int(seconds)) if seconds is not None else None
    except (TypeError, ValueError):
        return None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return _NOT_JSON
