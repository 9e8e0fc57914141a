"""Pinterest Ads: Pinterest's sign-in with continuous refresh, the ad accounts a member reaches
and their daily analytics, over API v5.

Facts (research notes P2-P6; "OpenAPI" is Pinterest's own description of API v5,
github.com/pinterest/api-description `v5/openapi.yaml`, release 5.23):
- Consent at `www.pinterest.com/oauth/` (`client_id`, `redirect_uri`, `response_type=code`,
  `scope` comma-separated, `state`); the code is traded at `POST api.pinterest.com/v5/oauth/token`
  with HTTP Basic client authentication and a form body (P2; OpenAPI `oauth/token`).
- Continuous refresh (P2): an app made before 25 September 2025 sends `continuous_refresh=true`
  with the code to get "the continuous refresh token (60-day expiration, refreshable
  indefinitely)"; the legacy 365-day refresh token is gone (OpenAPI `oauth/token`). Every refresh
  answers a new refresh token with `refresh_token_expires_in` and `refresh_token_expires_at`
  (OpenAPI `OauthAccessTokenResponseRefresh`). Access tokens last 30 days: `expires_in` 2592000
  in Pinterest's own api-quickstart tests (P6 says the same).
- Scopes: `ads:read` for ad accounts and their analytics, `user_accounts:read` for
  `/v5/user_account` (OpenAPI, the security of each operation).
- Revocation: `POST /v5/oauth/token/revoke` takes "only tokens issued for system users" (OpenAPI);
  a member's grant ends when they remove the app from their Pinterest settings.
- Accounts: `GET /v5/ad_accounts` answers `{"items": [...], "bookmark": ...}`, paged by
  `bookmark` with `page_size` up to 250, and includes accounts shared through Business Access
  (OpenAPI `ad_accounts/list`).
- Analytics: `GET /v5/ad_accounts/{id}/analytics` with `start_date`, `end_date`, `columns` and
  `granularity=DAY` answers a list of rows with `DATE` and the columns; `*_IN_MICRO_DOLLAR` is in
  millionths of the account's currency; data "up to 90 days before the current date ... with a
  maximum time range of 90 days" (OpenAPI `ad_account/analytics`, P4); "If a column has no
  value, it may not be returned". Its rate-limit category, `ads_analytics`, allows 300 calls a
  minute per user at Standard access (P3).
- Errors are `{"code", "message"}` (OpenAPI `Error`): 401 code 2 "Authentication failed." (P5;
  the same body in pinterest-python-generated-api-client issue #31); 401 code 3, a token without
  the scopes; 403 code 29 "You are not permitted to access that resource."; 404 code 2
  "AdAccount not found."; 429 code 8, a rate limit; 2625, an advertiser account disapproved;
  2626, one under review (OpenAPI examples). At the token endpoint code 2 is the app's own
  authentication (OpenAPI `token/revoke`) and a grant refused is code 283 "The authorization
  grant is invalid" (pinterest-python-sdk issue #114). 500 code 12 "Something went wrong on our
  end. Sorry about that." (api-quickstart issue #85); a start too far back is 400 code 1 "You can
  only get data from the last 90 days." (3P, several clients quote it).
- Throttles: a 429 comes without Retry-After; Airbyte's source-pinterest waits as long as
  `X-RateLimit-Reset` says, and reads "Retry after N seconds" in a 400 of the analytics endpoint.

Decisions where Pinterest does not say:
- 401 code 2 from the API reads as `token_expired`: it is Pinterest's one answer for every dead
  access token. The check then refreshes once and the token endpoint decides: a live grant gets
  a new access token (it had only expired); a dead one is refused with code 283, which reads as
  `token_revoked`. A revoked grant, a password change and a refresh token that ran out all read
  so: Pinterest's words are the same for each, as Google's are.
- At the token endpoint, code 2 (the app's id or secret is wrong) is `unknown`: the operator's
  to fix, never a member's lapse. A code refused at sign-in is `unknown` too: no grant lapsed.
- 403 code 29, 404 code 2 and 2625 (disapproved) read as `access_removed`: the grant no longer
  reaches the account's data until a person acts. 2626 (under review) passes: `unknown`.
- Code 12 and "something went wrong" are a passing outage whatever the status (Airbyte retries
  them on a 400 too).
- `X-RateLimit-Reset` is read as seconds to wait; a value past a year of seconds is read as the
  Unix time it names. The token endpoint's throttles wait Tether's own back-off: its answers are
  read before this adapter sees their headers.
- PKCE: Pinterest documents none for its consent; Tether sends none (`pkce=False`).
- Paid figures: `IMPRESSION_1`, `CLICKTHROUGH_1` and `SPEND_IN_MICRO_DOLLAR` are what the spend
  bought (earned `_2` figures are left out); `TOTAL_CONVERSIONS` counts the conversions, rounded
  down when Pinterest models a fraction.
- Restatement: the last 30 days are loaded again on each sync. Pinterest's default attribution
  (30-day click and engagement, 1-day view, reported at the time of the ad action: OpenAPI
  `click_window_days`, `conversion_report_time`) books a conversion on the click's day up to 30
  days later.
- Days without a row are loaded as zeros, so coverage shows them loaded; the rows carry no
  currency, so a day's currency is its account's.
- Identity: the member's public `username` is the name shown; a user account has no person's
  name.
"""

import re
import time
from collections.abc import Mapping
from datetime import date
from typing import Any

import httpx

from tether.providers import answers
from tether.providers.base import (
    AuthKind,
    Credentials,
    DailyMetrics,
    ProviderCallError,
    Reason,
    TokenGrant,
)
from tether.providers.daily import zero_filled
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
    ReportCall,
    Reports,
    Setup,
    TokenAuthMethod,
    rule,
)

DIALECT = "pinterest"
API = "{api}/v5"
BASES = {"www": "https://www.pinterest.com", "api": "https://api.pinterest.com"}
SCOPES = ("ads:read", "user_accounts:read")
ACCESS_SECONDS = 30 * 86400
REFRESH_SECONDS = 60 * 86400
# The analytics endpoint's limits (OpenAPI `ad_account/analytics`).
HISTORY_DAYS = 90
MAX_DAYS_PER_CALL = 90
COLUMNS = ("IMPRESSION_1", "CLICKTHROUGH_1", "SPEND_IN_MICRO_DOLLAR", "TOTAL_CONVERSIONS")
ACCOUNTS_PAGE_SIZE = "250"
# `X-RateLimit-Reset` beyond this many seconds names a moment, not a wait.
_A_YEAR = 366 * 86400
_RETRY_AFTER = re.compile(r"retry after\s+(\d+(?:\.\d+)?)\s*s", re.IGNORECASE)
# What a refused sign-in stays: passing faults. Any other refusal of a code is no lapse.
_SIGN_IN_PASSES = frozenset({Reason.RATE_LIMITED, Reason.PROVIDER_OUTAGE})

ERRORS = Errors(
    rules=(
        rule(Reason.RATE_LIMITED, {"code": 8}),
        rule(Reason.RATE_LIMITED, contains={"message": "retry after"}),
        rule(Reason.PROVIDER_OUTAGE, {"code": 12}),
        rule(Reason.PROVIDER_OUTAGE, contains={"message": "something went wrong"}),
        rule(Reason.TOKEN_EXPIRED, {"code": 2}, statuses=[401]),
        rule(Reason.TOKEN_REVOKED, {"code": 283}),
        rule(Reason.SCOPE_MISSING, {"code": 3}),
        rule(Reason.ACCESS_REMOVED, {"code": (29, 2625)}),
        rule(Reason.ACCESS_REMOVED, {"code": 2}, statuses=[404]),
    ),
    message_paths=("message", "error_description", "error"),
    rate_limits=RateLimits(retry_after_header=True),
)

PINTEREST_ADS = ProviderDefinition(
    key="pinterest_ads",
    name="Pinterest Ads",
    auth_kind=AuthKind.OAUTH2,
    description="Pinterest ad accounts, shared ones included: daily impressions, clicks, spend, "
    "conversions.",
    bases=BASES,
    identify=Identify(url=API + "/user_account", id_path="id", name_path="username"),
    # Cheap, and it proves ads:read is still granted, which /user_account alone would not.
    probe_url=API + "/ad_accounts?page_size=1",
    accounts=Accounts(
        url=API + "/ad_accounts",
        items_path="items.*",
        id_path="id",
        name_path="name",
        currency_path="currency",
        params={"page_size": ACCOUNTS_PAGE_SIZE},
        paging=Paging.TOKEN,
        next_path="bookmark",
        next_param="bookmark",
    ),
    oauth=OAuth(
        authorize_url="{www}/oauth/",
        token_url=API + "/oauth/token",
        revoke_url=None,  # Pinterest revokes system users' tokens only (see the docstring)
        scopes=SCOPES,
        scope_separator=",",
        token_auth_method=TokenAuthMethod.BASIC,
        pkce=False,
    ),
    lifetimes=Lifetimes(
        access_seconds=ACCESS_SECONDS,
        refreshable=True,
        rotates_refresh_token=True,
        notes=(
            "Access tokens last 30 days and are refreshed ahead of expiry. Refresh tokens are "
            "continuous: each lasts 60 days and every refresh hands out a new one, so a grant "
            "in use never ends. Removing the app in Pinterest's settings, or a password "
            "change, ends it."
        ),
    ),
    errors=ERRORS,
    reports=Reports(
        max_days_per_call=MAX_DAYS_PER_CALL, history_days=HISTORY_DAYS, restate_days=30
    ),
    report=ReportCall(
        url=API + "/ad_accounts/{account_id}/analytics",
        params={
            "start_date": "{start}",
            "end_date": "{end}",
            "columns": ",".join(COLUMNS),
            "granularity": "DAY",
        },
        rows_path="*",
        date_path="DATE",
        impressions_path="IMPRESSION_1",
        clicks_path="CLICKTHROUGH_1",
        spend_path="SPEND_IN_MICRO_DOLLAR",
        conversions_path="TOTAL_CONVERSIONS",
        spend_divisor=1_000_000,
    ),
    dialect=DIALECT,
    setup=Setup(
        register_url="https://developers.pinterest.com/apps/",
        steps=(
            "At Pinterest Developers, connect an app to your business account and ask for "
            "Standard access (Trial access allows 1,000 calls a day).",
            "Add the redirect URI below to the app's redirect URIs.",
            "Set the app id as CLIENT_ID and the app secret key as CLIENT_SECRET.",
        ),
    ),
)


class PinterestAdsProvider(DefinedProvider):
    """Pinterest's code beyond its definition: the code exchange with continuous refresh, what
    the token endpoint's refusals mean, the rate-limit waits, and zero days in the report."""

    async def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant:
        """The code traded for a grant whose refresh token renews itself on every refresh."""
        try:
            return await self._oauth().other_grant(
                "authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                continuous_refresh="true",
            )
        except ProviderCallError as error:
            raise _at_sign_in(error) from None

    async def refresh(self, *, refresh_token: str) -> TokenGrant:
        """A new access token and, always, a new refresh token with 60 days ahead of it."""
        try:
            return await super().refresh(refresh_token=refresh_token)
        except ProviderCallError as error:
            raise _at_token_endpoint(error) from None

    def error_of(
        self, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> ProviderCallError:
        """The definition's reading, with the wait Pinterest announces for a throttle."""
        seen = httpx.Headers(headers or {})  # header names in any case
        error = super().error_of(status, body, seen)
        if error.reason == Reason.RATE_LIMITED:
            waits = [reset_wait(seen), said_wait(error.message), error.retry_after]
            error.retry_after = max((w for w in waits if w), default=None)
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
        """The ad account's analytics per day; a day Pinterest left out is a day of zeros."""
        served = await super().fetch_daily(credentials, account_id=account_id, start=start, end=end)
        return zero_filled(served, start, end)


def reset_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds until Pinterest lets calls through again, from `X-RateLimit-Reset`."""
    value = httpx.Headers(headers).get("x-ratelimit-reset")
    wait = answers.seconds(value.strip()) if value is not None else None
    if wait is not None and wait > _A_YEAR:
        wait -= time.time()
    return wait if wait is not None and wait > 0 else None


def said_wait(message: str) -> float | None:
    """The wait a message names ("Retry after 30 seconds"), if it names one."""
    found = _RETRY_AFTER.search(message)
    return float(found.group(1)) if found else None


def _at_token_endpoint(error: ProviderCallError) -> ProviderCallError:
    """Code 2 there is the app's own authentication, which no reconnect fixes."""
    if error.reason != Reason.TOKEN_EXPIRED:
        return error
    return _unknown(error)


def _at_sign_in(error: ProviderCallError) -> ProviderCallError:
    """A refused code is no lapse: there is no grant yet. Passing faults stay what they are."""
    return error if error.reason in _SIGN_IN_PASSES else _unknown(error)


def _unknown(error: ProviderCallError) -> ProviderCallError:
    return ProviderCallError(
        Reason.UNKNOWN, error.message, status=error.status, retry_after=error.retry_after
    )
