"""LinkedIn Ads: LinkedIn's 3-legged OAuth, the ad accounts a member has a role on, adAnalytics.

Facts (see the research notes, L1-L7):
- Sign-in: `www.linkedin.com/oauth/v2/authorization`, the code traded at
  `www.linkedin.com/oauth/v2/accessToken` with the client id and secret in the form. An access
  token lasts 60 days (`expires_in` 5183999). Apps with programmatic refresh get a refresh
  token that ends 365 days after the member first consented (`refresh_token_expires_in`);
  refreshing gives a new access token but never extends that end (L1). Tether refreshes ahead
  of each 60-day end and opens an *expiring* incident ahead of the 365th day, the one end no
  refresh can move.
- Scopes: `r_ads` (ad accounts) and `r_ads_reporting` (adAnalytics), from the Advertising
  API product; `openid` and `profile` (Sign In with LinkedIn using OpenID Connect) for
  `/v2/userinfo`, which says who signed in, so a reconnect by another member is caught.
- The versioned API lives under `api.linkedin.com/rest` and wants `LinkedIn-Version: YYYYMM`
  and `X-Restli-Protocol-Version: 2.0.0` on every call; query values use Rest.li 2.0's
  syntax (`List(...)`, `(start:(year:…))`), with the URNs inside percent-encoded.
- Accounts: `adAccountUsers?q=authenticatedUser` lists the member's roles, one per ad
  account (`urn:li:sponsoredAccount:<id>`), paged by `start`/`count`; the accounts' names and
  currencies come from one batch get, `adAccounts?ids=List(...)`.
- Reports: `adAnalytics?q=analytics&pivot=ACCOUNT&timeGranularity=DAILY` answers one element
  per day with delivery (L6), figures as numbers and cost as a decimal string in the
  account's currency (`costInLocalCurrency`). It does not page.
- Errors: `{"status", "serviceErrorCode", "code", "message"}` (L2). 401 65600 is an invalid
  token, 65601 a token the member revoked, 65602 an expired one. 429 with serviceErrorCode
  101 is a throttle (L3), and LinkedIn sends no rate-limit headers: its limits are daily and
  reset at midnight UTC (L4). 5xx is a passing outage.

Decisions where LinkedIn does not say (or says it elsewhere):
- PKCE: LinkedIn documents it only for native apps; the web flow with a client secret is
  sent without it (`pkce=False`).
- A refused refresh is one answer, `invalid_grant` (L7), whatever killed the grant. It reads
  as `token_expired`: Tether probes a LinkedIn grant at every check but refreshes it only
  every ~60 days, so a member's revocation shows first as 65601 (`token_revoked`) on a probe;
  a refresh refused otherwise is almost always the 365-day end.
- LinkedIn does not say why it revoked a token: a password change reads as `token_revoked`.
- 403 with serviceErrorCode 100 ("Not enough permissions to access") on an account's report
  means the member lost that account (`access_removed`); on the probe, which reads only the
  member's own roles, it means the grant lacks `r_ads` (`scope_missing`).
- A throttle waits until LinkedIn's next midnight UTC, when its daily limits reset, unless a
  Retry-After says sooner: retrying earlier spends calls of a quota that is gone.
- Conversions are website conversions (`externalWebsiteConversions`) and Lead Gen Form
  submissions (`oneClickLeads`), added. LinkedIn's default window counts a conversion up to
  30 days after the click, booked on the day of the click, so the last 30 days are loaded
  again on each sync. Days without delivery are left out by LinkedIn and loaded as zeros.
- History: LinkedIn keeps ad analytics for years (how many is unconfirmed); Tether asks for
  no more than its usual three.
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from tether.providers import answers
from tether.providers.base import (
    AuthKind,
    Credentials,
    DailyMetrics,
    ExternalAccount,
    ProviderCallError,
    Reason,
)
from tether.providers.daily import figure, zero_filled
from tether.providers.defined import DefinedProvider
from tether.providers.definition import (
    Accounts,
    ErrorRule,
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
)

NAME = "LinkedIn Ads"
FAMILY = "linkedin"
DIALECT = "linkedin"
# One pinned API version (LinkedIn supports each monthly version for at least a year).
API_VERSION = "202610"
VERSION_HEADERS = {"LinkedIn-Version": API_VERSION, "X-Restli-Protocol-Version": "2.0.0"}
BASES = {"www": "https://www.linkedin.com", "api": "https://api.linkedin.com"}
SCOPES = ("r_ads", "r_ads_reporting", "openid", "profile")
ACCESS_SECONDS = 60 * 86400
REFRESH_SECONDS = 365 * 86400
ACCOUNT_USERS = "{api}/rest/adAccountUsers"
AD_ACCOUNTS = "{api}/rest/adAccounts"
AD_ANALYTICS = "{api}/rest/adAnalytics"
ACCOUNT_URN = "urn:li:sponsoredAccount:"
PAGE_SIZE = 100
# A batch get names at most this many accounts (a URL stays well under LinkedIn's limit).
BATCH_SIZE = 100
MAX_PAGES = 500
ANALYTICS_FIELDS = (
    "dateRange",
    "impressions",
    "clicks",
    "costInLocalCurrency",
    "externalWebsiteConversions",
    "oneClickLeads",
)
CONVERSION_FIELDS = ("externalWebsiteConversions", "oneClickLeads")

_NO_PERMISSION = 100
_THROTTLED = 101
TOKEN_RULES: tuple[ErrorRule, ...] = (
    rule(Reason.TOKEN_EXPIRED, {"error": "invalid_grant"}),
    rule(Reason.UNKNOWN, {"error": ("invalid_client", "unauthorized_client")}),
)
API_RULES: tuple[ErrorRule, ...] = (
    rule(Reason.TOKEN_EXPIRED, {"serviceErrorCode": 65602}),
    rule(Reason.TOKEN_REVOKED, {"serviceErrorCode": (65600, 65601)}),
    rule(Reason.TOKEN_REVOKED, statuses={401}),
    rule(Reason.RATE_LIMITED, {"serviceErrorCode": _THROTTLED}),
    rule(Reason.ACCESS_REMOVED, {"serviceErrorCode": _NO_PERMISSION}, statuses={403}),
)
MESSAGE_PATHS = ("message", "error_description", "error")

LINKEDIN_ADS = ProviderDefinition(
    key="linkedin_ads",
    name=NAME,
    auth_kind=AuthKind.OAUTH2,
    description="LinkedIn Campaign Manager ad accounts: daily impressions, clicks, spend, "
    "conversions.",
    bases=BASES,
    identify=Identify(url="{api}/v2/userinfo", id_path="sub", name_path="name", email_path="email"),
    # The member's own roles, one of them: cheap, and it proves r_ads is still granted.
    probe_url=ACCOUNT_USERS + "?q=authenticatedUser&start=0&count=1",
    accounts=Accounts(
        url=ACCOUNT_USERS,
        items_path="elements.*",
        id_path="account",
        params={"q": "authenticatedUser"},
    ),
    oauth=OAuth(
        authorize_url="{www}/oauth/v2/authorization",
        token_url="{www}/oauth/v2/accessToken",
        revoke_url="{www}/oauth/v2/revoke",
        scopes=SCOPES,
        token_auth_method=TokenAuthMethod.POST,
        pkce=False,
    ),
    lifetimes=Lifetimes(
        access_seconds=ACCESS_SECONDS,
        refreshable=True,
        refresh_fixed_seconds=REFRESH_SECONDS,
        notes=(
            "Access tokens last 60 days and are refreshed ahead of their end. The refresh "
            "token ends 365 days after the member first signed in, and refreshing does not "
            "extend it: Tether warns ahead so the member signs in again in time. A member "
            "revoking the app in their LinkedIn settings ends it sooner."
        ),
    ),
    errors=Errors(
        rules=(*TOKEN_RULES, *API_RULES),
        message_paths=MESSAGE_PATHS,
        rate_limits=RateLimits(retry_after_header=True),
    ),
    reports=Reports(max_days_per_call=366, history_days=1095, restate_days=30),
    family=FAMILY,
    dialect=DIALECT,
    setup=Setup(
        register_url="https://www.linkedin.com/developers/apps",
        steps=(
            "In the LinkedIn Developer Portal, create an app for your company page and ask "
            "for the Advertising API product; add Sign In with LinkedIn using OpenID Connect.",
            "Under Auth, add the redirect URI below to the authorized redirect URLs.",
            "Set the client id as CLIENT_ID and the primary client secret as CLIENT_SECRET.",
        ),
    ),
)


class LinkedInAdsProvider(DefinedProvider):
    """LinkedIn's code beyond its definition: version headers, the accounts' names, the
    midnight wait of a throttle, and adAnalytics."""

    def auth_headers(self, credentials: Credentials) -> dict[str, str]:
        return {**super().auth_headers(credentials), **VERSION_HEADERS}

    def error_of(
        self, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> ProviderCallError:
        """The definition's reading; a throttle without Retry-After waits for LinkedIn's
        daily reset."""
        error = super().error_of(status, body, httpx.Headers(headers or {}))  # any case
        if error.reason == Reason.RATE_LIMITED and error.retry_after is None:
            error.retry_after = seconds_to_reset(datetime.now(UTC))
        return error

    async def probe(self, credentials: Credentials) -> None:
        """The member's roles: refused with 403 only when the grant cannot read ad accounts."""
        try:
            await super().probe(credentials)
        except ProviderCallError as error:
            if error.reason == Reason.ACCESS_REMOVED:
                error.reason = Reason.SCOPE_MISSING
            raise

    async def list_accounts(self, credentials: Credentials) -> list[ExternalAccount]:
        """Every ad account the member has a role on, with its name and currency."""
        ids = await self._account_ids(credentials)
        found: dict[str, Any] = {}
        for n in range(0, len(ids), BATCH_SIZE):
            batch = ids[n : n + BATCH_SIZE]
            url = self.url(AD_ACCOUNTS) + f"?ids=List({','.join(batch)})"
            body = await self.call("GET", url, credentials)
            results = body.get("results") if isinstance(body, dict) else None
            found |= results if isinstance(results, dict) else {}
        return [_account(i, found.get(i)) for i in ids]

    async def _account_ids(self, credentials: Credentials) -> list[str]:
        ids: list[str] = []
        for page in range(MAX_PAGES):
            start = str(page * PAGE_SIZE)
            params = {"q": "authenticatedUser", "start": start, "count": str(PAGE_SIZE)}
            body = await self.call("GET", self.url(ACCOUNT_USERS), credentials, params=params)
            elements = list(answers.found(body, "elements.*"))
            for element in elements:
                account = account_id(answers.first(element, "account"))
                if account is not None and account not in ids:
                    ids.append(account)
            if len(elements) < PAGE_SIZE:
                break
        return ids

    async def fetch_daily(
        self,
        credentials: Credentials,
        *,
        account_id: str,
        start: date,
        end: date,
        manager_id: str | None = None,
    ) -> list[DailyMetrics]:
        """The account's figures per day, from one adAnalytics call."""
        url = self.url(AD_ANALYTICS) + "?" + analytics_query(account_id, start, end)
        body = await self.call("GET", url, credentials)
        return daily_metrics(answers.found(body, "elements.*"), start, end)


def account_id(urn: Any) -> str | None:
    """The number of an ad account URN (`urn:li:sponsoredAccount:123` is `123`)."""
    if not isinstance(urn, str) or not urn.startswith(ACCOUNT_URN):
        return None
    number = urn.removeprefix(ACCOUNT_URN)
    return number if number.isdigit() else None


def _account(number: str, found: Any) -> ExternalAccount:
    name = answers.first(found, "name")
    currency = answers.first(found, "currency")
    return ExternalAccount(
        number, str(name) if name else f"LinkedIn ad account {number}", currency or None
    )


def seconds_to_reset(now: datetime) -> float:
    """Seconds until the next midnight UTC, when LinkedIn's daily limits start again."""
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return (midnight - now).total_seconds()


def _restli_date(day: date) -> str:
    return f"(year:{day.year},month:{day.month},day:{day.day})"


def analytics_query(account_id: str, start: date, end: date) -> str:
    """adAnalytics' query for one account per day, in Rest.li 2.0's syntax (its parentheses
    and commas stay as they are; the URN inside `List()` is percent-encoded)."""
    urn = quote(ACCOUNT_URN + account_id, safe="")
    return "&".join(
        (
            "q=analytics",
            "pivot=ACCOUNT",
            "timeGranularity=DAILY",
            f"dateRange=(start:{_restli_date(start)},end:{_restli_date(end)})",
            f"accounts=List({urn})",
            f"fields={','.join(ANALYTICS_FIELDS)}",
        )
    )


def daily_metrics(elements: Iterable[Any], start: date, end: date) -> list[DailyMetrics]:
    """adAnalytics elements as Tether's days; a day LinkedIn left out is a day of zeros."""
    return zero_filled((m for m in map(_day_of, elements) if m is not None), start, end)


def _day_of(element: Any) -> DailyMetrics | None:
    when = answers.first(element, "dateRange.start")
    try:
        day = date(int(when["year"]), int(when["month"]), int(when["day"]))
    except (TypeError, KeyError, ValueError):
        return None
    return DailyMetrics(
        day,
        int(figure(element, "impressions", NAME)),
        int(figure(element, "clicks", NAME)),
        figure(element, "costInLocalCurrency", NAME),
        int(sum(figure(element, f, NAME) for f in CONVERSION_FIELDS)),
    )
