"""X Ads: OAuth 1.0a's three legs at api.x.com, the ad accounts a grant reaches, and their
campaigns' figures per day through asynchronous stats jobs (`x_ads_stats.py`).

Facts (research notes X1-X5; "docs" is X's own documentation, github.com/xdevplatform/docs,
whose pages docs.x.com serves):
- Sign-in is OAuth 1.0a (X1): `POST api.x.com/oauth/request_token` with `oauth_callback`
  answers `oauth_token`, `oauth_token_secret` and `oauth_callback_confirmed=true` (form-encoded);
  the member consents at `api.x.com/oauth/authorize?oauth_token=…`; the callback receives
  `oauth_token` and `oauth_verifier`, and `POST api.x.com/oauth/access_token`, signed with the
  request token and carrying the verifier, answers `oauth_token`, `oauth_token_secret`, `user_id`
  and `screen_name`; who signed in is `GET 1.1/account/verify_credentials.json` (docs
  `fundamentals/authentication`, "Obtaining access tokens" and its API reference). The callback
  must be registered on the app. Every call is signed (HMAC-SHA1 over the consumer secret and
  the token's secret): Authlib's `OAuth1Auth` signs each one.
- "These tokens do not expire but can be revoked by the user at any time" (the same page).
  `POST api.x.com/1.1/oauth/invalidate_token`, signed with the token, revokes it and answers
  `{"access_token": …}`; the token is then refused with 401 `{"errors": [{"code": 89,
  "message": "Invalid or expired token."}]}` (X2).
- Accounts: `GET ads-api.x.com/12/accounts` lists the ad accounts the member has access to,
  `{"data": [{id, name, timezone, …}], "next_cursor"}`, paged by `cursor` with `count` up to
  1000 (X4; docs `campaign-management/reference`). An account names no currency: its funding
  instruments do (`accounts/:id/funding_instruments`, `currency`, ISO 4217; amounts in micros,
  docs `fundamentals/currency`).
- Stats (X5; docs `x-ads-api/analytics`): asynchronous jobs, `POST stats/jobs/accounts/:id`
  (entity, up to 20 `entity_ids`, `start_time`, `end_time`, `granularity`, `placement`,
  `metric_groups`), then `GET stats/jobs/accounts/:id?job_ids=…` (up to 200 ids) until
  `status` is `SUCCESS` with a `url` to a gzip JSON file, downloaded as it is (the docs use
  `wget`). A job covers at most 90 days; X asks for 30-day windows when backfilling. The
  `ACCOUNT` entity has only some `ENGAGEMENT` metrics (no clicks, no spend, no conversions), so
  figures are asked per campaign, for the campaigns `stats/accounts/:id/active_entities` names
  (with the placements each served in; X's recommended way). A `DAY` query runs from midnight
  to midnight in the account's time zone, written with "the offset of the current day, not the
  offset of the day in question" (docs `fundamentals/timezones`); end times are exclusive.
  Values are arrays, one per day, or `null` for none; `billed_charge_local_micro` is spend in
  micros; X's "Total Conversions" adds `conversion_custom`, `conversion_site_visits`,
  `conversion_sign_ups`, `conversion_downloads` and `conversion_purchases`, each an object whose
  `metric` counts them; `clicks` is what X's click rate divides by impressions.
- Spend is an estimate for up to 3 days and billing is processed for up to 14 days after the
  event; other figures are final after 24 hours (docs `x-ads-api/analytics`, FAQs).
- Errors: `{"errors": [{"code", "message", …}], "request": …}`, the Ads API's codes CAPS_CASE
  constants (X3, docs `fundamentals/error-codes-and-responses`: 401 `UNAUTHORIZED_ACCESS`, 403
  `ACCOUNT_NOT_FOUND`, 429 `TOO_MANY_REQUESTS`, 500 `INTERNAL_ERROR`, 503 `SERVICE_UNAVAILABLE`
  and `OVER_CAPACITY`, 408 `CANCELLED_REQUEST`, 400 `INVALID_PARAMETER`, 404 `NOT_FOUND`);
  api.x.com's are numbers (89 above; 88 "Rate limit exceeded", 130 "Over capacity", 131
  "Internal error", 32 "Could not authenticate you.": X's v1.1 response codes,
  developer.twitter.com/en/docs/basics/response-codes, as clients quote them; not re-read).
- Rate limits (X1; docs `fundamentals/rate-limiting`): per token in `x-rate-limit-limit`,
  `-remaining` and `-reset`, per ad account in `x-account-rate-limit-*`, the reset an epoch in
  seconds; a 429 is retried "only at or after the time indicated", a 503 after its
  `retry-after` (docs `x-ads-api/analytics`, best practices). Windows are 15 minutes.

Decisions where X does not say (assumptions):
- An access token X no longer accepts is 89 whatever ended it: a revocation, the sandbox's
  "expired" switch, a password change (X's own docs name no other end). All read as
  `token_revoked`. So does 401 `UNAUTHORIZED_ACCESS`, the Ads API's word for credentials it
  does not accept. 32 "Could not authenticate you." is the app's consumer key or secret, or a
  bad signature: the operator's to fix, `unknown`, never a member's lapse.
- 403 `ACCOUNT_NOT_FOUND` is what an ad account the member lost answers (`access_removed`);
  `CURRENT_USER_SUSPENDED` reads the same way. 404 `NOT_FOUND` and `ROUTE_NOT_FOUND` are as much
  Tether's URL as X's: retried (`unknown`).
- A throttle waits until the later of `x-account-rate-limit-reset` and `x-rate-limit-reset`
  (both windows are 15 minutes, so the later costs at most one window), or its `retry-after`.
- A stats job is looked at once at once, then after 1, 2, 4 and 8 seconds and every 15 seconds,
  about three minutes in all; one not done by then is a passing outage, asked again at the next
  sync (a `FAILED` one is retried as `unknown`). Its file is downloaded without the grant's
  signature: the docs fetch it so, and a signature is never sent where an answer named it.
- Placements: each campaign is asked in every placement active entities name for it
  (`ALL_ON_TWITTER` when they name none), so spend outside the timeline is not left out.
- Restatement: 14 days, X's billing window, which also covers a 14-day post-engagement
  attribution (Singer's tap-twitter-ads defaults to it; X's default is unconfirmed). History: X
  names no limit on how far back stats go; three years are assumed.
- Consent asks for no scope: an X app's permission (Read) is set on the app. X requires the
  callback URL to be registered: Tether's redirect URI is that callback.
- A connection's currency is its first funding instrument's, read with each report: an account
  names none, and reading every account's at each accounts check would cost a call per account.
"""

import asyncio
import warnings
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import authlib.deprecate  # noqa: F401  (it installs an "always" filter of its own on import)
import httpx

with warnings.catch_warnings():
    # As in oauth.py: Authlib prefers httpx2 and warns when it falls back to httpx.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import OAuth1Auth
    from authlib.oauth1.rfc5849.errors import InsecureTransportError

from tether.providers import answers, x_ads_stats
from tether.providers.base import (
    AuthKind,
    Consent,
    Credentials,
    DailyMetrics,
    ProviderCallError,
    Reason,
    TokenGrant,
)
from tether.providers.daily import windows
from tether.providers.defined import DefinedProvider
from tether.providers.definition import (
    Accounts,
    Errors,
    Identify,
    Lifetimes,
    OAuth,
    Paging,
    ProviderDefinition,
    RateLimits,
    Reports,
    Setup,
    TokenAuthMethod,
    rule,
)
from tether.providers.transport import unreachable

NAME = "X Ads"
DIALECT = "x"
# One pinned Ads API version.
API_VERSION = "12"
BASES = {"api": "https://api.x.com", "ads": "https://ads-api.x.com"}
REQUEST_TOKEN_URL = "{api}/oauth/request_token"
AUTHORIZE_URL = "{api}/oauth/authorize"
ACCESS_TOKEN_URL = "{api}/oauth/access_token"
INVALIDATE_URL = "{api}/1.1/oauth/invalidate_token"
VERIFY_CREDENTIALS_URL = "{api}/1.1/account/verify_credentials.json"
ADS = "{ads}/" + API_VERSION
ACCOUNTS_URL = ADS + "/accounts"
PAGE_SIZE = "1000"
RESTATE_DAYS = 14
HISTORY_DAYS = 1095
# Seconds before each look at a stats job: at once, then backing off; about three minutes.
JOB_WAITS = (0.0, 1.0, 2.0, 4.0, 8.0) + (15.0,) * 12
RESET_HEADERS = ("x-account-rate-limit-reset", "x-rate-limit-reset")

_CODE = "errors.*.code"
RULES = (
    rule(Reason.TOKEN_REVOKED, {_CODE: (89, "UNAUTHORIZED_ACCESS")}),
    rule(Reason.ACCESS_REMOVED, {_CODE: ("ACCOUNT_NOT_FOUND", "CURRENT_USER_SUSPENDED")}),
    rule(Reason.RATE_LIMITED, {_CODE: (88, "TOO_MANY_REQUESTS")}),
    rule(
        Reason.PROVIDER_OUTAGE,
        {_CODE: (130, 131, "INTERNAL_ERROR", "SERVICE_UNAVAILABLE", "OVER_CAPACITY")},
    ),
    rule(Reason.PROVIDER_OUTAGE, {_CODE: "CANCELLED_REQUEST"}),
    # The app's own credentials or signature: never a member's lapse, whatever the status.
    rule(Reason.UNKNOWN, {_CODE: (32, 135, 215, "UNAUTHORIZED_CLIENT_APPLICATION")}),
)

X_ADS = ProviderDefinition(
    key="x_ads",
    name=NAME,
    auth_kind=AuthKind.OAUTH1,
    description="X ad accounts: daily impressions, clicks, spend, conversions of their campaigns.",
    bases=BASES,
    identify=Identify(
        url=VERIFY_CREDENTIALS_URL,
        id_path="id_str",
        name_path="name",
        params={"include_entities": "false", "skip_status": "true"},
    ),
    # Cheap, and it proves the Ads API still answers this grant, which identity would not.
    probe_url=ACCOUNTS_URL + "?count=1",
    accounts=Accounts(
        url=ACCOUNTS_URL,
        items_path="data.*",
        params={"count": PAGE_SIZE},
        paging=Paging.TOKEN,
        next_path="next_cursor",
        next_param="cursor",
    ),
    oauth=OAuth(
        authorize_url=AUTHORIZE_URL,
        token_url=ACCESS_TOKEN_URL,
        revoke_url=INVALIDATE_URL,
        # Read access is the app's permission on X, not asked for in the consent.
        scopes=(),
        token_auth_method=TokenAuthMethod.POST,
        pkce=False,
    ),
    lifetimes=Lifetimes(
        refreshable=False,
        notes=(
            "OAuth 1.0a: an access token and its secret that do not expire and are never "
            "refreshed. There is no end to warn of; the member revoking the app ends them, and "
            "the regular check finds that."
        ),
    ),
    errors=Errors(
        rules=RULES,
        message_paths=("errors.*.message", "error", "message"),
        rate_limits=RateLimits(retry_after_header=True),
    ),
    reports=Reports(
        max_days_per_call=x_ads_stats.MAX_DAYS_PER_JOB,
        history_days=HISTORY_DAYS,
        restate_days=RESTATE_DAYS,
    ),
    email_grouping="digest",
    dialect=DIALECT,
    setup=Setup(
        register_url="https://developer.x.com/en/portal/dashboard",
        steps=(
            "In the X Developer Portal, create a project and an app, and apply for Ads API "
            "access for the app (Standard access covers analytics).",
            "In the app's User authentication settings, turn on OAuth 1.0a with Read "
            "permission and add the redirect URI below as a Callback URI.",
            "Set the app's API Key (consumer key) as CLIENT_ID and its API Key Secret as "
            "CLIENT_SECRET.",
        ),
    ),
)


class XAdsProvider(DefinedProvider):
    """X's code beyond its definition: OAuth 1.0a's legs, every call signed, revocation, the
    wait of a throttle, and the campaigns' stats jobs per day."""

    # Seconds before each look at a stats job (see the module's decisions).
    job_waits: tuple[float, ...] = JOB_WAITS

    def authorize_url(self, *, state: str, code_verifier: str, redirect_uri: str) -> str:
        """Never: X's consent needs a request token first (`start_consent`)."""
        raise ProviderCallError(Reason.UNKNOWN, f"{self.name} signs in with OAuth 1.0a.")

    async def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant:
        """Never: X trades a request token and its verifier (`finish_consent`)."""
        raise ProviderCallError(Reason.UNKNOWN, f"{self.name} signs in with OAuth 1.0a.")

    async def start_consent(self, *, state: str, code_verifier: str, redirect_uri: str) -> Consent:
        """A request token whose callback is Tether's, and X's consent page for it. The request
        token names the attempt; its secret waits, sealed, for the callback."""
        answer = await self._token_call(REQUEST_TOKEN_URL, self._signer(redirect_uri=redirect_uri))
        token, secret = answer.get("oauth_token"), answer.get("oauth_token_secret")
        if not token or not secret or answer.get("oauth_callback_confirmed") != "true":
            raise ProviderCallError(Reason.UNKNOWN, f"{self.name} did not confirm the callback.")
        url = f"{self.url(AUTHORIZE_URL)}?{urlencode({'oauth_token': token})}"
        return Consent(url, handle=token, secret=secret)

    async def finish_consent(
        self, *, handle: str, secret: str, code: str, redirect_uri: str
    ) -> TokenGrant:
        """The request token and the callback's verifier for an access token and its secret,
        which never expire."""
        signer = self._signer(token=handle, token_secret=secret, verifier=code)
        answer = await self._token_call(ACCESS_TOKEN_URL, signer)
        token, token_secret = answer.get("oauth_token"), answer.get("oauth_token_secret")
        if not token or not token_secret:
            raise ProviderCallError(Reason.UNKNOWN, "The token answer holds no access token.")
        return TokenGrant(token, token_secret=token_secret)

    async def refresh(self, *, refresh_token: str) -> TokenGrant:
        """Never needed: X's tokens do not expire."""
        raise ProviderCallError(Reason.UNKNOWN, f"{self.name} tokens cannot be refreshed.")

    async def revoke(self, *, token: str, token_secret: str | None = None) -> None:
        """The app gives the token up at X (`oauth/invalidate_token`, signed with it)."""
        credentials = Credentials(access_token=token, token_secret=token_secret)
        await self.call("POST", self.url(INVALIDATE_URL), credentials)

    async def _token_call(self, template: str, signer: OAuth1Auth) -> dict[str, str]:
        """A signed POST to one of X's token endpoints, whose answer is form-encoded."""
        try:
            response = await self._http.post(self.url(template), auth=signer)
        except httpx.HTTPError as error:
            raise unreachable(self.name, error) from None
        except InsecureTransportError:
            raise _insecure(self.name) from None
        if not response.is_success:
            raise self._token_refusal(response)
        return dict(parse_qsl(response.text))

    def _token_refusal(self, response: httpx.Response) -> ProviderCallError:
        """X's token endpoints refuse in JSON or in a line of text; either is its own words."""
        try:
            body: Any = response.json()
        except ValueError:
            body = {"message": response.text.strip()[:500]} if response.text.strip() else {}
        return self.error_of(response.status_code, body, response.headers)

    def _signer(
        self,
        *,
        token: str | None = None,
        token_secret: str | None = None,
        redirect_uri: str | None = None,
        verifier: str | None = None,
    ) -> OAuth1Auth:
        """OAuth 1.0a's HMAC-SHA1 signature with the app's consumer key and secret, and what a
        call presents besides: a token and its secret, a callback or a verifier."""
        key, secret = self._oauth().app_credentials()
        return OAuth1Auth(
            key,
            secret,
            token=token,
            token_secret=token_secret,
            redirect_uri=redirect_uri,
            verifier=verifier,
        )

    def auth_headers(self, credentials: Credentials) -> dict[str, str]:
        """No bearer token: `call` signs each request instead."""
        return dict(self._headers)

    async def call(
        self,
        method: str,
        url: str,
        credentials: Credentials,
        *,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One call, signed with the app's secret and the grant's token secret."""
        if not credentials.access_token or not credentials.token_secret:
            raise ProviderCallError(
                Reason.TOKEN_REVOKED,
                f"This {self.name} authorization holds no token secret; connect it again.",
            )
        signer = self._signer(token=credentials.access_token, token_secret=credentials.token_secret)
        try:
            return await super().call(
                method, url, credentials, headers=headers, auth=signer, **kwargs
            )
        except InsecureTransportError:
            raise _insecure(self.name) from None

    def error_of(
        self, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> ProviderCallError:
        """The definition's reading; a throttle waits until X's rate-limit windows reset."""
        seen = httpx.Headers(headers or {})  # header names in any case
        error = super().error_of(status, body, seen)
        if error.reason == Reason.RATE_LIMITED:
            wait = reset_wait(seen, datetime.now(UTC))
            if wait is not None:
                error.retry_after = max(wait, error.retry_after or 0.0)
        return error

    async def fetch_daily(
        self,
        credentials: Credentials,
        *,
        account_id: str,
        start: date,
        end: date,
        manager_id: str | None = None,
    ) -> list[DailyMetrics]:
        """The account's campaigns added up per day of its own time zone: its zone and currency
        first, then for each 30 days a stats job per placement and 20 active campaigns, looked
        at together until done."""
        account = self.url(ADS) + "/accounts/" + _segment(account_id)
        zone = x_ads_stats.account_zone(await self.call("GET", account, credentials))
        currency = await self._currency(credentials, account)
        jobs = self.url(ADS) + "/stats/jobs/accounts/" + _segment(account_id)
        asked: list[tuple[x_ads_stats.Window, list[str]]] = []
        for first, last in windows(start, end, x_ads_stats.MAX_DAYS_PER_JOB):
            days = x_ads_stats.window(first, last, zone, datetime.now(UTC))
            params = await self._job_params(credentials, account_id, days)
            posted = [await self.call("POST", jobs, credentials, params=p) for p in params]
            asked.append((days, [x_ads_stats.job_id(body) for body in posted]))
        urls = await self._finished(credentials, jobs, [i for _, ids in asked for i in ids])
        loaded: list[DailyMetrics] = []
        for days, ids in asked:
            files = [await self._download(urls[i]) for i in ids]
            loaded += x_ads_stats.daily_metrics(files, days, currency)
        return loaded

    async def _currency(self, credentials: Credentials, account: str) -> str | None:
        """The currency the account is billed in: its funding instruments'."""
        body = await self.call(
            "GET", account + "/funding_instruments", credentials, params={"count": "1"}
        )
        found = answers.first(body, "data.*.currency")
        return str(found) if found else None

    async def _job_params(
        self, credentials: Credentials, account_id: str, days: x_ads_stats.Window
    ) -> list[dict[str, str]]:
        """The jobs that cover every campaign with figures in the window."""
        url = self.url(ADS) + f"/stats/accounts/{_segment(account_id)}/active_entities"
        window = {"start_time": days.start_time, "end_time": days.end_time}
        active = await self.call("GET", url, credentials, params={"entity": "CAMPAIGN", **window})
        return [x_ads_stats.job_params(*spec, days) for spec in x_ads_stats.job_specs(active)]

    async def _finished(
        self, credentials: Credentials, jobs: str, ids: list[str]
    ) -> dict[str, str]:
        """Each job's file, once done, looked at as `job_waits` says."""
        pending, urls = set(ids), {}
        for wait in self.job_waits:
            if not pending:
                break
            await asyncio.sleep(wait)
            for job, url in await self._done(credentials, jobs, sorted(pending)):
                pending.discard(job)
                urls[job] = url
        if pending:
            raise ProviderCallError(
                Reason.PROVIDER_OUTAGE, f"{self.name} did not finish the report in time."
            )
        return urls

    async def _done(
        self, credentials: Credentials, jobs: str, ids: list[str]
    ) -> list[tuple[str, str]]:
        """Those of the jobs that are done, with their files' URLs; a failed job fails all."""
        done = []
        for n in range(0, len(ids), x_ads_stats.MAX_JOBS_PER_LOOK):
            asked = ids[n : n + x_ads_stats.MAX_JOBS_PER_LOOK]
            body = await self.call("GET", jobs, credentials, params={"job_ids": ",".join(asked)})
            for job, status, url in x_ads_stats.job_states(body):
                if job in asked and status == "FAILED":
                    raise ProviderCallError(
                        Reason.UNKNOWN, f"{self.name} could not build the report."
                    )
                if job in asked and status == "SUCCESS" and url:
                    done.append((job, url))
        return done

    async def _download(self, url: str) -> Any:
        """A finished job's file, fetched as X's docs do, without the grant's signature."""
        try:
            response = await self._http.get(url)
        except httpx.HTTPError as error:
            raise unreachable(self.name, error) from None
        if not response.is_success:
            raise ProviderCallError(
                Reason.UNKNOWN,
                f"{self.name}'s report file could not be downloaded (HTTP {response.status_code}).",
            )
        return x_ads_stats.unpacked(response.content)


def reset_wait(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds until the later of X's rate-limit resets (epoch seconds) it sent."""
    resets = [answers.seconds(headers.get(name, "").strip()) for name in RESET_HEADERS]
    waits = [reset - now.timestamp() for reset in resets if reset is not None]
    positive = [wait for wait in waits if wait > 0]
    return max(positive) if positive else None


def _segment(value: str) -> str:
    """An id as one path segment, whatever it holds."""
    return quote(value, safe="")


def _insecure(provider_name: str) -> ProviderCallError:
    # Authlib signs only over HTTPS (or to this machine): a base URL set to plain HTTP elsewhere.
    return ProviderCallError(
        Reason.UNKNOWN, f"{provider_name} can only be reached over HTTPS: check its base URLs."
    )
