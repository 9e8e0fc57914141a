"""TikTok Ads: the TikTok API for Business (its Marketing API): advertiser authorization, the
advertisers a grant reaches, and their daily report.

Facts (see the research notes, T1-T6, and the sources named):
- Consent: the advertiser authorization page `business-api.tiktok.com/portal/auth`, with
  `app_id` (not `client_id`), `state` and `redirect_uri` (T1). Permissions are numeric ids
  chosen when the app is created, never asked for in the URL; the advertiser approves them on
  the page, and the token carries what they approved (T1).
- Token: `POST /open_api/v1.3/oauth2/access_token/` with the JSON `{app_id, secret, auth_code}`
  answers `data.access_token`, `data.advertiser_ids` and `data.scope` (T1). It is no OAuth 2.0
  exchange (no grant_type, no redirect_uri, no PKCE), so Authlib is not used for it. The token
  is long-term: no expiry and no refresh token (refreshing one gives 40107, T2). It ends when
  the advertiser cancels the authorization, or at `/oauth2/revoke_token/` (T1).
- Every call carries the token in an `Access-Token` header, never in `Authorization` (T1).
- Every answer, failures included, is HTTP 200 with `{code, message, request_id, data}`; only
  code 0 is a success (T2). Lapses: 40102 expired, 40104 empty, 40105 invalid or revoked, 40106
  core user invalid (T2, T4). Throttling: 40100 (the app's limit), 40133 (an advertiser's QPS),
  40016 (T2), with no rate-limit header (T3). Passing: 50000, 50002, 60001 maintenance (T2).
- Accounts: `/oauth2/advertiser/get/?app_id=…&secret=…` lists every advertiser the token
  reaches as `data.list[{advertiser_id, advertiser_name}]`, unpaged (T1; Airbyte's
  source-tiktok-marketing calls it so); `/advertiser/info/` gives their `currency`, 100 ids a
  call (bububa/tiktok-business, `model/advertiser/info.go`). Identity: `/user/info/` answers
  `data.core_user_id`, `display_name` and `email` (bububa/tiktok-business, `model/user`).
- Report: `/report/integrated/get/` with `report_type=BASIC`, `data_level=AUCTION_ADVERTISER`
  and `dimensions=["advertiser_id","stat_time_day"]` (T6), lists JSON-encoded in the query, at
  most 30 days a call with `stat_time_day` (T5), `page` and `page_size` (up to 1000). Rows are
  `{dimensions: {stat_time_day: "2024-01-01 00:00:00"}, metrics: {…}}`, figures as strings;
  `currency` is a metric when an ID dimension is asked (bububa/tiktok-business,
  `model/report`). `conversion` counts the ad's optimization event on the day of the ad's
  click or view (`real_time_conversion` would count it on its own day).

Decisions where TikTok does not say (assumptions):
- The redirect back carries `auth_code`, and TikTok is reported to send the same value as
  `code` too (unconfirmed). Tether's callback reads either. A cancelled consent is assumed to
  come back with `state` and no code ("nothing was connected").
- Probe: `/user/info/`, the cheapest call that needs the token alone. `/oauth2/advertiser/get/`
  would also prove the advertisers are reached, but puts the app secret in a URL at every
  check; a lost advertiser is found when the accounts are checked, or when its report answers.
- 40104 (no token sent) and 40106 (the TikTok for Business user behind the grant is no longer
  valid) read as `token_revoked`: a person must authorize again either way. 40001 (no
  permission) and 40300 (the advertiser is gone) read as `access_removed`: what a lost
  advertiser answers. A password change cannot be told apart at TikTok: it reads as revoked.
  The app's own problems (40101 app and secret do not match, 40110 used or expired auth_code,
  40113 app blocked) and unknown codes are `unknown`: retried, never a member's lapse.
- Waits: TikTok names none. Its rate-limit guide suspends calls for 5 minutes after the
  per-minute limit (T3), so 40100 and 40016 wait 300 s; 40133 (a per-second limit of one
  advertiser) waits Tether's own back-off, which is already longer than a second.
- Restatement: 29 days. A conversion lands on the click's (or view's) day up to the
  attribution window later: 7 days by default, 28 at most (TikTok Ads Manager's attribution
  settings; 3P: ppcmarketinghub.com, reflectdigital.co.uk). 28 days and today fit in one
  30-day call, so covering the widest window costs no extra call.
- History: TikTok documents no limit on how far back reports go; three years are assumed.
- Days are the advertiser's own time zone, as TikTok reports them. A day TikTok leaves out (no
  delivery) is loaded as zeros; a figure written `-` (TikTok's "not applicable") counts as zero.
- The app secret goes only where TikTok asks for it (a JSON body, the query of
  `/oauth2/advertiser/get/`); it is masked in any message, and Tether's logs mask `secret=`.
"""

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from tether.providers import answers
from tether.providers.base import (
    AuthKind,
    Credentials,
    DailyMetrics,
    ExternalAccount,
    ProviderCallError,
    Reason,
    TokenGrant,
)
from tether.providers.daily import unreadable, windows, zero_filled
from tether.providers.defined import DefinedProvider
from tether.providers.definition import (
    Accounts,
    Errors,
    Identify,
    Lifetimes,
    OAuth,
    ProviderDefinition,
    RateLimits,
    Reports,
    Setup,
    TokenAuthMethod,
    rule,
    values,
)

DIALECT = "tiktok"
# One pinned version of the API for Business (v1.2 is retired).
API_VERSION = "v1.3"
API = "{business}/open_api/" + API_VERSION
BASES = {"business": "https://business-api.tiktok.com"}
TOKEN_URL = API + "/oauth2/access_token/"
REVOKE_URL = API + "/oauth2/revoke_token/"
ADVERTISERS_URL = API + "/oauth2/advertiser/get/"
ADVERTISER_INFO_URL = API + "/advertiser/info/"
REPORT_URL = API + "/report/integrated/get/"

MAX_REPORT_DAYS = 30
HISTORY_DAYS = 1095
RESTATE_DAYS = 29
REPORT_METRICS = ("spend", "impressions", "clicks", "conversion", "currency")
REPORT_PAGE_SIZE = 1000
# A report that never stops paging is a provider bug, not a reason to loop forever.
MAX_REPORT_PAGES = 100
# advertiser/info takes at most this many ids at once.
INFO_BATCH = 100
# TikTok's suspension after the per-minute limit (T3), for the app-wide throttles.
APP_THROTTLE_SECONDS = 300.0

_APP_THROTTLES = values(40100, 40016)
RULES = (
    rule(Reason.TOKEN_EXPIRED, {"code": 40102}),
    rule(Reason.TOKEN_REVOKED, {"code": (40104, 40105, 40106)}),
    rule(Reason.ACCESS_REMOVED, {"code": (40001, 40300)}),
    rule(Reason.RATE_LIMITED, {"code": (*_APP_THROTTLES, 40133)}),
    rule(Reason.PROVIDER_OUTAGE, {"code": (50000, 50002, 51305, 60001)}),
)
# A call without a token: the token endpoints take the app's credentials in the body instead.
_APP_ONLY = Credentials()

TIKTOK_ADS = ProviderDefinition(
    key="tiktok_ads",
    name="TikTok Ads",
    auth_kind=AuthKind.OAUTH2,
    description="TikTok advertiser accounts: daily impressions, clicks, spend, conversions.",
    bases=BASES,
    identify=Identify(
        url=API + "/user/info/",
        id_path="data.core_user_id",
        name_path="data.display_name",
        email_path="data.email",
    ),
    accounts=Accounts(
        url=ADVERTISERS_URL,
        items_path="data.list.*",
        id_path="advertiser_id",
        name_path="advertiser_name",
    ),
    oauth=OAuth(
        authorize_url="{business}/portal/auth",
        token_url=TOKEN_URL,
        revoke_url=REVOKE_URL,
        # Chosen on the app, not asked for in the URL (see Setup).
        scopes=(),
        token_auth_method=TokenAuthMethod.POST,
        pkce=False,
    ),
    lifetimes=Lifetimes(
        refreshable=False,
        notes=(
            "A long-term token with no expiry and no refresh token: it ends only when the "
            "advertiser cancels the authorization or it is revoked. There is nothing to renew "
            "and no end to warn of; the regular check finds a lapse."
        ),
    ),
    errors=Errors(
        rules=RULES, message_paths=("message",), rate_limits=RateLimits(retry_after_header=False)
    ),
    reports=Reports(
        max_days_per_call=MAX_REPORT_DAYS, history_days=HISTORY_DAYS, restate_days=RESTATE_DAYS
    ),
    dialect=DIALECT,
    setup=Setup(
        register_url="https://business-api.tiktok.com/portal/apps",
        steps=(
            "In TikTok API for Business, register as a developer and create an app.",
            "Set the Advertiser redirect URL to the redirect URI below.",
            "Give the app the permissions Ad Account Management (Read Ad Account Information) "
            "and Reporting; once it is approved, set the App ID as CLIENT_ID and the Secret "
            "as CLIENT_SECRET.",
        ),
    ),
)


class TikTokAdsProvider(DefinedProvider):
    """TikTok's code beyond its definition: its own token exchange and revocation, the
    `Access-Token` header, answers read by their `code`, advertisers with their currency, and
    the daily report."""

    def authorize_url(self, *, state: str, code_verifier: str, redirect_uri: str) -> str:
        """The advertiser authorization page (TikTok has no PKCE: the verifier stays unused)."""
        app_id, _ = self._app()
        query = urlencode({"app_id": app_id, "state": state, "redirect_uri": redirect_uri})
        return f"{self._oauth().endpoints.authorize_url}?{query}"

    async def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant:
        """The auth_code for the long-term token: no expiry, no refresh token."""
        app_id, secret = self._app()
        payload = {"app_id": app_id, "secret": secret, "auth_code": code}
        body = await self.call("POST", self.url(TOKEN_URL), _APP_ONLY, json=payload)
        token = answers.first(body, "data.access_token")
        if not isinstance(token, str) or not token:
            raise ProviderCallError(Reason.UNKNOWN, "The token answer holds no access token.")
        scope = ",".join(str(s) for s in answers.found(body, "data.scope.*"))
        return TokenGrant(token, None, None, scope or None)

    async def refresh(self, *, refresh_token: str) -> TokenGrant:
        """Never needed: a long-term token has no refresh token (refreshing one gives 40107)."""
        raise ProviderCallError(Reason.UNKNOWN, f"{self.name} tokens cannot be refreshed.")

    async def revoke(self, *, token: str, token_secret: str | None = None) -> None:
        """The app gives the token up at TikTok (`/oauth2/revoke_token/`)."""
        app_id, secret = self._app()
        payload = {"app_id": app_id, "secret": secret, "access_token": token}
        await self.call("POST", self.url(REVOKE_URL), _APP_ONLY, json=payload)

    def _app(self) -> tuple[str, str]:
        return self._oauth().app_credentials()

    def auth_headers(self, credentials: Credentials) -> dict[str, str]:
        """The token in TikTok's `Access-Token` header; none on the app's own calls."""
        token = credentials.access_token or credentials.api_key
        return {**self._headers, "Access-Token": token} if token else dict(self._headers)

    async def call(
        self,
        method: str,
        url: str,
        credentials: Credentials,
        *,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One call; TikTok's answer failed whenever its `code` is not 0, whatever the HTTP
        status says (nearly always 200)."""
        body = await super().call(method, url, credentials, headers=headers, **kwargs)
        if isinstance(body, dict) and answers.text(body.get("code")) == "0":
            return body
        raise self.error_of(200, body)

    def error_of(
        self, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> ProviderCallError:
        """The definition's reading, with TikTok's documented wait for an app-wide throttle,
        and never the app secret in the message."""
        error = super().error_of(status, body, headers)
        code = answers.text(answers.first(body, "code"))
        if error.reason == Reason.RATE_LIMITED and code in _APP_THROTTLES:
            error.retry_after = max(APP_THROTTLE_SECONDS, error.retry_after or 0.0)
        secret = self.oauth.app_credentials()[1] if self.oauth else ""
        if secret and secret in error.message:
            error.message = error.message.replace(secret, "***")
            error.args = (error.message,)
        return error

    async def list_accounts(self, credentials: Credentials) -> list[ExternalAccount]:
        """Every advertiser the token reaches, with its currency."""
        app_id, secret = self._app()
        params = {"app_id": app_id, "secret": secret}
        body = await self.call("GET", self.url(ADVERTISERS_URL), credentials, params=params)
        listed = [a for a in map(self._account, answers.found(body, "data.list.*")) if a]
        currencies = await self._currencies(credentials, [a.external_id for a in listed])
        return [replace(a, currency=currencies.get(a.external_id)) for a in listed]

    async def _currencies(self, credentials: Credentials, ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for n in range(0, len(ids), INFO_BATCH):
            params = {
                "advertiser_ids": _json_list(ids[n : n + INFO_BATCH]),
                "fields": _json_list(["advertiser_id", "currency"]),
            }
            body = await self.call("GET", self.url(ADVERTISER_INFO_URL), credentials, params=params)
            for item in answers.found(body, "data.list.*"):
                if isinstance(item, dict) and item.get("advertiser_id") and item.get("currency"):
                    found[str(item["advertiser_id"])] = str(item["currency"])
        return found

    async def fetch_daily(
        self,
        credentials: Credentials,
        *,
        account_id: str,
        start: date,
        end: date,
        manager_id: str | None = None,
    ) -> list[DailyMetrics]:
        """The advertiser's days, 30 to a call, page after page."""
        rows: list[Any] = []
        for first, last in windows(start, end, MAX_REPORT_DAYS):
            rows += await self._report(credentials, account_id, first, last)
        return zero_filled((day_of(row, self.name) for row in rows), start, end)

    async def _report(
        self, credentials: Credentials, account_id: str, start: date, end: date
    ) -> list[Any]:
        url, rows = self.url(REPORT_URL), []
        for page in range(1, MAX_REPORT_PAGES + 1):
            params = report_params(account_id, start, end, page)
            body = await self.call("GET", url, credentials, params=params)
            rows += list(answers.found(body, "data.list.*"))
            total = answers.first(body, "data.page_info.total_page")
            if not isinstance(total, int) or page >= total:
                break
        return rows


def _json_list(items: list[str]) -> str:
    return json.dumps(items, separators=(",", ":"))


def report_params(account_id: str, start: date, end: date, page: int) -> dict[str, str]:
    """The advertiser's figures per day over the range (TikTok takes lists as JSON)."""
    return {
        "advertiser_id": account_id,
        "report_type": "BASIC",
        "data_level": "AUCTION_ADVERTISER",
        "dimensions": _json_list(["advertiser_id", "stat_time_day"]),
        "metrics": _json_list(list(REPORT_METRICS)),
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "page": str(page),
        "page_size": str(REPORT_PAGE_SIZE),
    }


def day_of(row: Any, provider_name: str = "TikTok Ads") -> DailyMetrics:
    """One report row as Tether's day."""
    try:
        stamp = str(answers.first(row, "dimensions.stat_time_day"))
        day = datetime.strptime(stamp[:10], "%Y-%m-%d").date()
    except ValueError:
        raise unreadable(provider_name) from None
    figures = answers.first(row, "metrics")
    if not isinstance(figures, dict):
        raise unreadable(provider_name)
    currency = figures.get("currency")
    return DailyMetrics(
        day,
        int(_figure(figures.get("impressions"), provider_name)),
        int(_figure(figures.get("clicks"), provider_name)),
        _figure(figures.get("spend"), provider_name),
        int(_figure(figures.get("conversion"), provider_name)),
        str(currency) if currency and currency != "-" else None,
    )


def _figure(value: Any, provider_name: str) -> Decimal:
    """A figure TikTok writes as a string ("12", "34.56"); absent or "-" is zero."""
    if value is None or value in ("", "-"):
        return Decimal(0)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise unreadable(provider_name) from None
    if isinstance(value, bool) or not number.is_finite():
        raise unreadable(provider_name)
    return number
