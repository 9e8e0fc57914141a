"""Snapchat Ads: Snap's OAuth for the Marketing API, the ad accounts of the member's
organizations, and each ad account's stats per day (`snapchat_stats.py`).

Facts (see the research notes, S2, S3, and the sources named):
- Sign-in: `accounts.snapchat.com/login/oauth2/authorize` with `response_type=code` and the
  one scope `snapchat-marketing-api`; the code (and later the refresh token) is traded at
  `accounts.snapchat.com/login/oauth2/access_token`, the client id and secret in the form
  (developers.snap.com, Ads API "Authentication"; Airbyte's source-snapchat-marketing docs).
  The answer is `{access_token, token_type, expires_in, refresh_token, scope}`; an access
  token lasts an hour (`expires_in` 3600, S3). Calls send it as `Authorization: Bearer`.
- The refresh token does not expire and is used again for every new access token; a refresh
  answer carries no new one (Singer's tap-snapchat-ads, `client.py`).
- The API lives under `adsapi.snapchat.com/v1`. `/v1/me` says who signed in (`me.id`,
  `me.display_name`, `me.email`, `me.organization_id`). Ad accounts belong to organizations:
  `/v1/me/organizations`, then `/v1/organizations/{id}/adaccounts`, each item wrapped as
  `{"sub_request_status", "adaccount": {id, name, currency, timezone, status, ...}}`; lists
  page with `limit` and a `paging.next_link` URL (Airbyte's manifest, Singer's streams).
- Stats: `/v1/adaccounts/{id}/stats?granularity=DAY` answers
  `timeseries_stats[].timeseries_stat.timeseries[]`, each `{start_time, end_time, stats}`
  (developers.snap.com, "Measurement"); spend is in micro-currency. A DAY query must start
  (and end) at midnight in the ad account's time zone, written with its UTC offset, or Snap
  refuses it ("Unsupported Stats Query: Timeseries queries with DAY granularity must have a
  start time that is the start of day (00:00:00) for the account's timezone"; 3P,
  sixfootfour.net; Singer's `streams.py` names E1008 for an unsupported stats query).
  Clicks are swipes (`swipes`); purchases and sign-ups are `conversion_purchases` and
  `conversion_sign_ups` (Singer's `streams.py`).
- Errors come as `{"request_status": "ERROR", "request_id", "debug_message",
  "display_message", "error_code"}` (research notes, S-rows; Singer's `client.py`: E3003
  "Resource can not be found"). A member without permission on an ad account gets 403 E3002
  "Caller does not have permission" (3P, rudder-transformer's Snapchat fixtures). 401 and
  429 answer shorter bodies, `{"request_status": "ERROR", "request_id", "msg"}` (3P,
  Airbyte's test fixtures). Limits are 20 requests a second per app and 10 per token (S2).

Decisions where Snap does not say (or says it elsewhere):
- PKCE: not documented for the Marketing API; the web flow with a client secret is sent
  without it (`pkce=False`).
- A 401 from the API does not say why. It reads as `token_expired`: the token lives an hour,
  so Tether refreshes once on the spot (as it does for any early expiry), and the refresh
  says the rest. A refused refresh is OAuth's `invalid_grant`: `token_expired` when its
  description speaks of expiry, else `token_revoked` (a member removing the app, a password
  change or Snap ending the session cannot be told apart; they all read as revoked).
- 403 E3002 on an ad account means the member lost it (`access_removed`). 404 E3003 is
  "not found", from Tether's own URL as much as from Snap: retried (`unknown`), never a lapse.
- Throttling: a 429 waits as long as `Retry-After` says (assumed sent), or until the epoch in
  `X-Rate-Limit-Reset` (Singer's `client.py` reads `X-Rate-Limit-Limit`, `-Remaining` and
  `-Reset`), whichever is later; without either, Tether's own back-off.
- Revocation: Snap documents none for the Marketing API; Tether posts the token to
  `accounts.snapchat.com/login/oauth2/revoke` (RFC 7009's shape, as clients of Snap do). A
  refusal there never blocks deleting the authorization.
- The ad account's stats are assumed to answer every field Tether asks for (Snap's older
  reference allowed only `spend` at this level; current clients ask for impressions, swipes
  and conversions there).
- Conversions are purchases and sign-ups, added. Snap's default attribution windows are told
  differently by its clients (Singer: 28 days after a swipe, 7 after a view; Airbyte: 1 and
  28), so Tether asks for its own explicitly: 28 days after a swipe, the longest Snap offers,
  and 1 after a view. A day's conversions may grow for 28 days: the last 28 are loaded again
  on each sync. Days Snap leaves out are loaded as zeros.
- A DAY query spans at most 31 days here (unconfirmed: without a window, Snap answers the last
  31 days, per CData's Snapchat driver; Singer asks 30 days at a time, Keboola 28). History:
  Snap's limit is unknown; Tether asks for no more than its usual three years.
"""

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime
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
from tether.providers.daily import windows
from tether.providers.defined import DefinedProvider
from tether.providers.definition import (
    Accounts,
    ErrorRule,
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
from tether.providers.snapchat_stats import (
    MAX_DAYS_PER_CALL,
    account_zone,
    daily_metrics,
    stats_params,
)

NAME = "Snapchat Ads"
FAMILY = "snapchat"
DIALECT = "snapchat"
BASES = {"accounts": "https://accounts.snapchat.com", "api": "https://adsapi.snapchat.com"}
SCOPES = ("snapchat-marketing-api",)
ACCESS_SECONDS = 3600
ORGANIZATIONS = "{api}/v1/me/organizations"
API = "{api}/v1/"
# The most items a list answers at once: the fewest calls.
PAGE_SIZE = "1000"
# A listing that never stops paging is a Snap bug, not a reason to loop forever.
MAX_PAGES = 200
OK = "SUCCESS"

_NO_PERMISSION = "E3002"
_SPEAKS_OF_EXPIRY = {"error_description": "expire"}
TOKEN_RULES: tuple[ErrorRule, ...] = (
    rule(Reason.TOKEN_EXPIRED, {"error": "invalid_grant"}, contains=_SPEAKS_OF_EXPIRY),
    rule(Reason.TOKEN_REVOKED, {"error": "invalid_grant"}),
    rule(Reason.UNKNOWN, {"error": ("invalid_client", "unauthorized_client")}),
)
API_RULES: tuple[ErrorRule, ...] = (
    rule(Reason.ACCESS_REMOVED, {"error_code": _NO_PERMISSION}),
    rule(Reason.TOKEN_EXPIRED, statuses={401}),
    rule(Reason.RATE_LIMITED, statuses={429}),
)
# The person's words first, then the developer's, then the short bodies' and OAuth's.
MESSAGE_PATHS = ("display_message", "debug_message", "msg", "error_description", "error")

SNAPCHAT_ADS = ProviderDefinition(
    key="snapchat_ads",
    name=NAME,
    auth_kind=AuthKind.OAUTH2,
    description="Snapchat ad accounts of every organization you belong to: daily impressions, "
    "swipes, spend, conversions.",
    bases=BASES,
    identify=Identify(
        url="{api}/v1/me", id_path="me.id", name_path="me.display_name", email_path="me.email"
    ),
    # The first of two levels; SnapchatAdsProvider.list_accounts goes on to each
    # organization's ad accounts.
    accounts=Accounts(
        url=ORGANIZATIONS,
        items_path="organizations.*.organization",
        params={"limit": PAGE_SIZE},
        paging=Paging.NEXT_URL,
        next_path="paging.next_link",
    ),
    oauth=OAuth(
        authorize_url="{accounts}/login/oauth2/authorize",
        token_url="{accounts}/login/oauth2/access_token",
        revoke_url="{accounts}/login/oauth2/revoke",
        scopes=SCOPES,
        token_auth_method=TokenAuthMethod.POST,
        pkce=False,
    ),
    lifetimes=Lifetimes(
        access_seconds=ACCESS_SECONDS,
        refreshable=True,
        rotates_refresh_token=False,
        notes=(
            "Access tokens last an hour and are refreshed ahead of their end. The refresh "
            "token has no end of its own; the member removing the app, a password change or "
            "Snap ending the session ends it."
        ),
    ),
    errors=Errors(
        rules=(*TOKEN_RULES, *API_RULES),
        message_paths=MESSAGE_PATHS,
        rate_limits=RateLimits(retry_after_header=True),
    ),
    reports=Reports(max_days_per_call=MAX_DAYS_PER_CALL, history_days=1095, restate_days=28),
    email_grouping="digest",
    family=FAMILY,
    dialect=DIALECT,
    setup=Setup(
        register_url="https://business.snapchat.com/",
        steps=(
            "In Snap Business Manager, as an organization admin, open Business Details and "
            "create an OAuth app (accepting the Snap Developer and Business Tools terms).",
            "Give it the redirect URI below; Snap cannot change it later (a new app can).",
            "Set the OAuth client id as CLIENT_ID and the client secret, shown only once, "
            "as CLIENT_SECRET.",
        ),
    ),
)


class SnapchatAdsProvider(DefinedProvider):
    """Snap's code beyond its definition: the wait of a throttle, the ad accounts of every
    organization, and the stats per day in each account's time zone."""

    def error_of(
        self, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> ProviderCallError:
        """The definition's reading; a throttle waits until `X-Rate-Limit-Reset` too."""
        seen = httpx.Headers(headers or {})  # header names in any case
        error = super().error_of(status, body, seen)
        if error.reason == Reason.RATE_LIMITED:
            wait = reset_wait(seen, datetime.now(UTC))
            if wait is not None:
                error.retry_after = max(wait, error.retry_after or 0.0)
        return error

    async def list_accounts(self, credentials: Credentials) -> list[ExternalAccount]:
        """Every ad account of every organization the member belongs to, once each."""
        found: dict[str, ExternalAccount] = {}
        async for organization in self._items(self.url(ORGANIZATIONS), "organization", credentials):
            number = answers.first(organization, "id")
            if number is None:
                continue
            url = self.url(API) + f"organizations/{_segment(number)}/adaccounts"
            async for item in self._items(url, "adaccount", credentials):
                account = _account(item)
                if account is not None:
                    found.setdefault(account.external_id, account)
        return list(found.values())

    async def _items(
        self, url: str, kind: str, credentials: Credentials
    ) -> AsyncIterator[dict[str, Any]]:
        """Each `kind` item of a Snap list, page after page (items Snap failed are left out)."""
        following: str | None = url
        params: dict[str, str] | None = {"limit": PAGE_SIZE}
        for _ in range(MAX_PAGES):
            if following is None:
                return
            body = await self.call("GET", following, credentials, params=params)
            for wrapper in answers.found(body, f"{kind}s.*"):
                if isinstance(wrapper, dict) and wrapper.get("sub_request_status", OK) == OK:
                    item = wrapper.get(kind)
                    if isinstance(item, dict):
                        yield item
            link = answers.first(body, "paging.next_link")
            following, params = (str(link), None) if link else (None, None)

    async def fetch_daily(
        self,
        credentials: Credentials,
        *,
        account_id: str,
        start: date,
        end: date,
        manager_id: str | None = None,
    ) -> list[DailyMetrics]:
        """The ad account's figures per day of its own time zone, 31 days a call at most.
        The account is read first: it says its time zone (where a day starts) and currency."""
        url = self.url(API) + f"adaccounts/{_segment(account_id)}"
        body = await self.call("GET", url, credentials)
        account = answers.first(body, "adaccounts.0.adaccount")
        zone = account_zone(account, NAME)
        currency = answers.first(account, "currency")
        series: list[Any] = []
        for first, last in windows(start, end, MAX_DAYS_PER_CALL):
            params = stats_params(first, last, zone)
            stats = await self.call("GET", url + "/stats", credentials, params=params)
            series += answers.found(stats, "timeseries_stats.*.timeseries_stat.timeseries.*")
        return daily_metrics(series, zone, start, end, str(currency) if currency else None)


def _segment(value: Any) -> str:
    """An id as one path segment, whatever it holds."""
    return quote(str(value), safe="")


def _account(item: Mapping[str, Any]) -> ExternalAccount | None:
    number = item.get("id")
    if not number:
        return None
    name = item.get("name")
    currency = item.get("currency")
    return ExternalAccount(
        str(number), str(name) if name else f"Snapchat ad account {number}", currency or None
    )


def reset_wait(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds until the epoch in `X-Rate-Limit-Reset`, when Snap lets calls through again."""
    reset = answers.seconds(headers.get("x-rate-limit-reset", "").strip())
    if reset is None:
        return None
    wait = reset - now.timestamp()
    return wait if wait > 0 else None
