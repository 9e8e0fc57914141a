"""The one adapter every provider definition runs on: API calls, the probe, account listing.

A provider module subclasses `DefinedProvider` only for what its definition cannot say: a
daily report, a manager-account hierarchy, a token exchange. Everything else (the OAuth
mechanics, the error mapping, paging) comes from the definition.
"""

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from tether.config import ProviderSettings
from tether.providers import answers, daily
from tether.providers.base import (
    Consent,
    Credentials,
    DailyMetrics,
    ExternalAccount,
    Identity,
    ProviderCallError,
    Reason,
    TokenGrant,
)
from tether.providers.definition import Paging, ProviderDefinition
from tether.providers.oauth import OAuthClient
from tether.providers.transport import unreachable

# A listing that never ends is a provider bug, not a reason to loop forever.
MAX_ACCOUNT_PAGES = 500


class NoReports(ProviderCallError):
    """The provider has no daily report in Tether (e.g. a custom provider without one)."""


class DefinedProvider:
    """A provider, its bases resolved and its credentials set, ready to call."""

    def __init__(
        self,
        definition: ProviderDefinition,
        *,
        http: httpx.AsyncClient,
        bases: Mapping[str, str],
        oauth: OAuthClient | None = None,
        headers: Mapping[str, str] | None = None,
        settings: ProviderSettings | None = None,
    ) -> None:
        self.definition = definition
        self.bases = {name: url.rstrip("/") for name, url in bases.items()}
        self.oauth = oauth
        # The operator's settings of this provider (e.g. Google's consent_testing).
        self.settings = settings or ProviderSettings()
        self._http = http
        self._headers = dict(headers or {})
        # Every probe and report fills the same few templates: each is filled once.
        self._urls: dict[str, str] = {}

    @property
    def name(self) -> str:
        return self.definition.name

    def url(self, template: str) -> str:
        """A definition's URL template with the bases filled in. Templates are constants (an
        id is appended to the result, never formatted in), so the cache stays small."""
        url = self._urls.get(template)
        if url is None:
            url = self._urls[template] = template.format_map(self.bases)
        return url

    # -- OAuth (through Authlib, see oauth.py) -------------------------------------------

    def authorize_url(self, *, state: str, code_verifier: str, redirect_uri: str) -> str:
        return self._oauth().authorize_url(
            state=state, code_verifier=code_verifier, redirect_uri=redirect_uri
        )

    async def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant:
        grant = await self._oauth().exchange_code(
            code=code, code_verifier=code_verifier, redirect_uri=redirect_uri
        )
        return with_fixed_end(grant, self.definition.lifetimes.refresh_fixed_seconds)

    async def start_consent(self, *, state: str, code_verifier: str, redirect_uri: str) -> Consent:
        """OAuth 2.0's consent URL, which carries Tether's own state; the verifier waits for the
        callback. A platform whose consent needs a call first (OAuth 1.0a) overrides this."""
        url = self.authorize_url(
            state=state, code_verifier=code_verifier, redirect_uri=redirect_uri
        )
        return Consent(url, handle=state, secret=code_verifier)

    async def finish_consent(
        self, *, handle: str, secret: str, code: str, redirect_uri: str
    ) -> TokenGrant:
        """The callback's code for a grant, with what `start_consent` kept."""
        return await self.exchange_code(code=code, code_verifier=secret, redirect_uri=redirect_uri)

    async def refresh(self, *, refresh_token: str) -> TokenGrant:
        return await self._oauth().refresh(refresh_token=refresh_token)

    async def revoke(self, *, token: str, token_secret: str | None = None) -> None:
        await self._oauth().revoke(token=token)

    def _oauth(self) -> OAuthClient:
        if self.oauth is None:
            raise ProviderCallError(Reason.UNKNOWN, f"{self.name} is not connected by signing in.")
        return self.oauth

    # -- the API -------------------------------------------------------------------------

    def auth_headers(self, credentials: Credentials) -> dict[str, str]:
        """The headers a call with these credentials carries."""
        if credentials.api_key is not None:
            spec = self.definition.api_key
            if spec is not None and spec.param is not None:
                return dict(self._headers)  # the key goes in the query (`auth_params`)
            header, prefix = (spec.header, spec.prefix) if spec else ("Authorization", "Bearer ")
            return {**self._headers, header: f"{prefix}{credentials.api_key}"}
        return {**self._headers, "Authorization": f"Bearer {credentials.access_token}"}

    def auth_params(self, credentials: Credentials) -> dict[str, str]:
        """The query parameters a call with these credentials carries (a key sent in the
        query, where the tool takes it no other way)."""
        spec = self.definition.api_key
        if credentials.api_key is None or spec is None or spec.param is None:
            return {}
        return {spec.param: credentials.api_key}

    async def call(
        self,
        method: str,
        url: str,
        credentials: Credentials,
        *,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One API call; a failed answer raises ProviderCallError with Tether's reason."""
        sent = self.auth_headers(credentials)
        if headers:
            sent.update(headers)
        keyed = self.auth_params(credentials)
        if keyed:
            kwargs["params"] = {**(kwargs.get("params") or {}), **keyed}
        try:
            response = await self._http.request(method, url, headers=sent, **kwargs)
        except httpx.HTTPError as error:
            raise unreachable(self.name, error) from None
        body = _json(response)
        if not response.is_success:
            raise self.error_of(response.status_code, body, response.headers)
        return body

    def error_of(
        self, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> ProviderCallError:
        """A failed answer read by the definition's rules."""
        return answers.call_error(self.definition.errors, self.name, status, body, headers or {})

    def classify_error(self, status: int, body: Any) -> tuple[Reason, str]:
        """Tether's reason and the provider's own message for a failed answer."""
        error = self.error_of(status, body)
        return error.reason, error.message

    async def probe(self, credentials: Credentials) -> None:
        """The cheapest call that proves the credentials work (a health check's call)."""
        if self.definition.probe_url is None:
            await self.identify(credentials)
        else:
            await self.call("GET", self.url(self.definition.probe_url), credentials)

    async def identify(self, credentials: Credentials) -> Identity:
        """Who the credentials belong to on the provider's side."""
        spec = self.definition.identify
        # No parameters at all, rather than none: httpx would rebuild the URL for an empty dict.
        params = spec.params or None
        body = await self.call("GET", self.url(spec.url), credentials, params=params)
        external_id = answers.first(body, spec.id_path)
        if external_id is None:
            raise ProviderCallError(Reason.UNKNOWN, f"{self.name} did not say who this is.")
        name = answers.first(body, spec.name_path)
        email = answers.first(body, spec.email_path)
        return Identity(str(external_id), str(name or external_id), str(email) if email else None)

    async def list_accounts(self, credentials: Credentials) -> list[ExternalAccount]:
        """Every account the grant reaches, page after page."""
        spec = self.definition.accounts
        if spec.url is None:
            identity = await self.identify(credentials)
            return [ExternalAccount(identity.external_user_id, identity.name)]
        accounts: list[ExternalAccount] = []
        url: str | None = self.url(spec.url)
        params: dict[str, str] = dict(spec.params)
        for _ in range(MAX_ACCOUNT_PAGES):
            if url is None:
                break
            # An empty dict would make httpx drop the query of a next-page URL.
            body = await self.call("GET", url, credentials, params=params or None)
            accounts += [a for a in map(self._account, answers.found(body, spec.items_path)) if a]
            url, params = self._next_page(body, url, params)
        return accounts

    def _account(self, item: Any) -> ExternalAccount | None:
        spec = self.definition.accounts
        external_id = answers.first(item, spec.id_path)
        if external_id is None:
            return None
        name = answers.first(item, spec.name_path)
        currency = answers.first(item, spec.currency_path)
        return ExternalAccount(
            str(external_id), str(name or external_id), str(currency) if currency else None
        )

    def _next_page(
        self, body: Any, url: str, params: dict[str, str]
    ) -> tuple[str | None, dict[str, str]]:
        spec = self.definition.accounts
        following = answers.first(body, spec.next_path)
        if spec.paging == Paging.NONE or not following:
            return None, params
        if spec.paging == Paging.NEXT_URL:
            return str(following), {}
        assert spec.next_param is not None  # checked when the definition is loaded
        return url, {**params, spec.next_param: str(following)}

    async def fetch_daily(
        self,
        credentials: Credentials,
        *,
        account_id: str,
        start: date,
        end: date,
        manager_id: str | None = None,
    ) -> list[DailyMetrics]:
        """Daily metrics of one account, from the definition's report when it describes one
        (a provider with code for its report overrides this)."""
        spec = self.definition.report
        if spec is None:
            raise NoReports(
                Reason.UNKNOWN, f"{self.name} has no daily report in Tether, so nothing is loaded."
            )
        url, params = daily.request_of(
            spec, self.bases, account_id=account_id, start=start, end=end
        )
        sent: dict[str, Any] = {"json": params} if spec.method == "POST" else {"params": params}
        body = await self.call(spec.method, url, credentials, **sent)
        return daily.metrics_of(spec, body, start=start, end=end, provider_name=self.name)


def with_fixed_end(grant: TokenGrant, fixed_seconds: int | None) -> TokenGrant:
    """A new grant whose refresh token ends a fixed time after consent (LinkedIn's 365
    days): that end, when the token answer does not say it."""
    if fixed_seconds is None or grant.refresh_token is None or grant.refresh_expires_at:
        return grant
    ends = datetime.now(UTC) + timedelta(seconds=fixed_seconds)
    return replace(grant, refresh_expires_at=ends)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}
