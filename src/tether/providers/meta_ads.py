"""Meta Ads (Facebook and Instagram): Facebook Login, the Graph API's ad accounts and Insights.

Facts (see the research notes, M1-M11):
- Login: the dialog `www.facebook.com/<version>/dialog/oauth`, the code traded at
  `graph.facebook.com/<version>/oauth/access_token`. No refresh token: the code gives a
  short-lived user token (an hour or two), which Tether at once trades for a long-lived one
  (`grant_type=fb_exchange_token`, `expires_in` 5183944, about 60 days). Nothing renews it
  without the user, so Tether keeps its `expires_at` and warns ahead (the *expiring* incident).
- Scopes: `ads_read` is what the Insights API asks for when only reporting is done
  (developers.facebook.com/docs/marketing-api/insights, "Authorization");
  `business_management` reaches ad accounts owned by a Business Manager the user works in
  (developers.facebook.com/docs/permissions). `read_insights` is for Page insights, not ads.
- Errors come in one envelope, `{"error": {"message", "type", "code", "error_subcode",
  "error_user_title", "error_user_msg", "is_transient", "fbtrace_id"}}`, and are told apart by
  `code`/`error_subcode`, never by the HTTP status (M3, M5, M6).
- Insights keep 37 months of history (M9) and answer rows per day with `time_increment=1`,
  figures as strings, conversions inside `actions` (M7).

Decisions where Meta does not say (or says it elsewhere):
- PKCE: Meta documents it only for the OIDC code flow, "still in testing"; the ads flow with
  a client secret is sent without it (`pkce=False`).
- 459 (checkpoint: the user must sign in at facebook.com to pass a security check) reads as
  `password_changed`, like 460: both are fixed by the user signing in to Facebook again, and
  Meta's own message on the screen says which. 464 (unconfirmed user) and 467 (logged out,
  invalid session) read as `token_revoked`; 190 without a subcode too; 102 (the older session
  error) as `token_expired` unless its subcode says more.
- Permissions: 10 and 200-299 naming a permission (`ads_read`, ...) and 278/294 read as
  `scope_missing`; the others of 10 and 200-299 (e.g. 272, "requires the user to be admin of
  the ad account") as `access_removed`, as does 100/33 ("object does not exist, cannot be
  loaded due to missing permissions"), which is what an ad account the user lost answers.
- Codes 1 and 2 (and -2, and anything `is_transient`) are a passing outage, except code 1's
  "Error validating client secret", which is the operator's setup (`unknown`, retried).
- Throttling (4, 17, 32, 341, 613, 80000-80014) waits as long as the usage headers say:
  `X-Business-Use-Case-Usage`'s `estimated_time_to_regain_access` (minutes) and
  `X-Ad-Account-Usage`'s `reset_time_duration` (seconds). JSON inside a header is beyond
  `RateLimits`, so `error_of` reads it here.
- Restatement: the last 8 days are loaded again on each sync. Meta's default attribution
  (7-day click, 1-day view) books a conversion on the day of the click up to 7 days later.
- Conversions: per kind, the first of Meta's overlapping action types present (`omni_purchase`
  over `purchase` over the pixel's), for purchases, leads and completed registrations, added.
- Days without delivery are left out by Meta; they are loaded as zeros, so coverage shows
  them loaded.
- Instagram: ads shown on Instagram are part of the ad account's insights (placements). The
  Instagram accounts attached to an ad account are not separate ad accounts and are not listed,
  which would count their spend twice.
- API calls carry `appsecret_proof` when the app secret is set, as apps that "Require App
  Secret" demand. System-user tokens (Business Settings) never expire, or are the 60-day
  expiring kind: the second definition, `meta_ads_system_user`, takes one like an API key.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

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
    ApiKey,
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
    values,
)

FAMILY = "meta"
DIALECT = "meta"
# One pinned Graph API (and Marketing API) version; v26.0 came out on 2026-07-29.
GRAPH_VERSION = "v26.0"
GRAPH = "{graph}/" + GRAPH_VERSION
BASES = {"www": "https://www.facebook.com", "graph": "https://graph.facebook.com"}
SCOPES = ("ads_read", "business_management")
# What the long-lived exchange answers (M1); assumed when an answer leaves it out.
LONG_LIVED_SECONDS = 5183944
# Insights refuse a start more than 37 months back; 1110 days stays inside whatever the month.
HISTORY_DAYS = 1110
INSIGHTS_FIELDS = "impressions,clicks,spend,actions,account_currency"
INSIGHTS_PAGE_SIZE = "100"
# A report that never stops paging is a provider bug, not a reason to loop forever.
MAX_INSIGHTS_PAGES = 100

# Per kind of conversion, Meta's overlapping action types, the widest first: only the first
# present counts, so one purchase is never counted as omni, website and pixel purchase at once.
CONVERSION_ACTIONS = (
    ("omni_purchase", "purchase", "offsite_conversion.fb_pixel_purchase"),
    ("lead", "offsite_conversion.fb_pixel_lead", "onsite_conversion.lead_grouped"),
    (
        "omni_complete_registration",
        "complete_registration",
        "offsite_conversion.fb_pixel_complete_registration",
    ),
)

_SESSION = values(190, 102)
_PERMISSIONS = values(10, range(200, 300))
_THROTTLES = values(4, 17, 32, 341, 613, range(80000, 80015))

SESSION_RULES: tuple[ErrorRule, ...] = (
    rule(Reason.TOKEN_REVOKED, {"error.code": _SESSION, "error.error_subcode": (458, 464, 467)}),
    rule(Reason.PASSWORD_CHANGED, {"error.code": _SESSION, "error.error_subcode": (459, 460)}),
    rule(Reason.TOKEN_EXPIRED, {"error.code": _SESSION, "error.error_subcode": 463}),
    rule(Reason.TOKEN_REVOKED, {"error.code": 190}),
    rule(Reason.TOKEN_EXPIRED, {"error.code": 102}),
)
OTHER_RULES: tuple[ErrorRule, ...] = (
    rule(Reason.RATE_LIMITED, {"error.code": _THROTTLES}),
    *(
        rule(Reason.SCOPE_MISSING, {"error.code": _PERMISSIONS}, contains={"error.message": s})
        for s in (*SCOPES, "ads_management")
    ),
    rule(Reason.SCOPE_MISSING, {"error.code": (278, 294)}),
    rule(Reason.ACCESS_REMOVED, {"error.code": _PERMISSIONS}),
    rule(Reason.ACCESS_REMOVED, {"error.code": 100, "error.error_subcode": 33}),
    rule(Reason.UNKNOWN, {"error.code": 1}, contains={"error.message": "client secret"}),
    rule(Reason.PROVIDER_OUTAGE, {"error.code": values(1, 2, -2)}),
    rule(Reason.PROVIDER_OUTAGE, {"error.is_transient": "true"}),
)
# The person's words first (`error_user_msg`), then the developer's.
MESSAGE_PATHS = ("error.error_user_msg", "error.message", "error_description", "error")


def errors(*specific: ErrorRule) -> Errors:
    """Meta's error dialect, with a definition's own rules tried first."""
    return Errors(
        rules=(*specific, *SESSION_RULES, *OTHER_RULES),
        message_paths=MESSAGE_PATHS,
        rate_limits=RateLimits(retry_after_header=True),
    )


IDENTIFY = Identify(url=GRAPH + "/me", params={"fields": "id,name"})
ACCOUNTS = Accounts(
    url=GRAPH + "/me/adaccounts",
    items_path="data.*",
    id_path="id",
    name_path="name",
    currency_path="currency",
    params={"fields": "id,name,currency,account_id", "limit": "100"},
    paging=Paging.NEXT_URL,
    next_path="paging.next",
)
REPORTS = Reports(max_days_per_call=90, history_days=HISTORY_DAYS, restate_days=8)
SETUP = Setup(
    register_url="https://developers.facebook.com/apps",
    steps=(
        "In Meta for Developers, create a Business app and add Facebook Login for Business "
        "and the Marketing API.",
        "Add the redirect URI below to the valid OAuth redirect URIs.",
        "Ask for Advanced Access to ads_read and business_management (App Review); set the "
        "app id as CLIENT_ID and the app secret as CLIENT_SECRET.",
    ),
)

META_ADS = ProviderDefinition(
    key="meta_ads",
    name="Meta Ads (Facebook and Instagram)",
    auth_kind=AuthKind.OAUTH2,
    description="Facebook and Instagram ad accounts: daily impressions, clicks, spend, "
    "conversions.",
    bases=BASES,
    identify=IDENTIFY,
    # Cheap, and it proves ads_read is still granted, which /me alone would not.
    probe_url=GRAPH + "/me/adaccounts?fields=id&limit=1",
    accounts=ACCOUNTS,
    oauth=OAuth(
        authorize_url="{www}/" + GRAPH_VERSION + "/dialog/oauth",
        token_url=GRAPH + "/oauth/access_token",
        revoke_url=None,  # DELETE /me/permissions, in MetaAdsProvider.revoke
        scopes=SCOPES,
        scope_separator=",",
        token_auth_method=TokenAuthMethod.POST,
        pkce=False,
    ),
    lifetimes=Lifetimes(
        access_seconds=LONG_LIVED_SECONDS,
        refreshable=False,
        notes=(
            "No refresh token: the sign-in's short-lived token is traded for a long-lived "
            "one that lasts about 60 days. Nothing renews it without the user, so Tether "
            "warns ahead and asks them to sign in again. A password change, a security "
            "checkpoint or removing the app ends it sooner."
        ),
    ),
    errors=errors(),
    reports=REPORTS,
    family=FAMILY,
    dialect=DIALECT,
    setup=SETUP,
)

META_ADS_SYSTEM_USER = ProviderDefinition(
    key="meta_ads_system_user",
    name="Meta Ads (system user token)",
    auth_kind=AuthKind.API_KEY,
    description="Meta ad accounts through a Business Manager system user's token, which "
    "does not expire.",
    bases=BASES,
    identify=IDENTIFY,
    probe_url=META_ADS.probe_url,
    accounts=ACCOUNTS,
    api_key=ApiKey(
        header="Authorization",
        prefix="Bearer ",
        hint="Business Settings → Users → System users → Generate new token, with "
        "ads_read and business_management.",
    ),
    lifetimes=Lifetimes(
        refreshable=False,
        notes="A system user's token does not expire (unless generated as the 60-day kind).",
    ),
    # An entered token that stops working is a key to replace, whatever Meta's subcode.
    errors=errors(rule(Reason.INVALID_API_KEY, {"error.code": _SESSION})),
    reports=REPORTS,
    family=FAMILY,
    dialect=DIALECT,
    setup=SETUP,
)


class MetaAdsProvider(DefinedProvider):
    """Meta's code beyond its definition: the long-lived exchange, revocation, usage headers,
    appsecret_proof and the Insights report."""

    async def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant:
        """The code's short-lived token, traded at once for the 60-day one."""
        short = await super().exchange_code(
            code=code, code_verifier=code_verifier, redirect_uri=redirect_uri
        )
        grant = await self._oauth().other_grant(
            "fb_exchange_token", fb_exchange_token=short.access_token
        )
        expires_at = grant.expires_at or datetime.now(UTC) + timedelta(seconds=LONG_LIVED_SECONDS)
        return TokenGrant(grant.access_token, None, expires_at, grant.scope or short.scope)

    async def revoke(self, *, token: str, token_secret: str | None = None) -> None:
        """Meta has no RFC 7009 endpoint: deleting the grant's permissions removes the app."""
        await self.call(
            "DELETE", self.url(GRAPH + "/me/permissions"), Credentials(access_token=token)
        )

    async def call(
        self,
        method: str,
        url: str,
        credentials: Credentials,
        *,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One Graph call; parameters join the URL's own (a `paging.next` URL holds them all).
        The token travels in the header only, never in a URL that a proxy might log."""
        params = kwargs.pop("params", None) or {}
        proof = appsecret_proof(credentials, self.settings.client_secret)
        query = url.partition("?")[2]
        if proof is None and "access_token" not in params and not _may_hold_token(query):
            # Nothing to take out or add: httpx joins the parameters as the merge below would,
            # without parsing the URL three more times (every probe and report comes here).
            return await super().call(
                method, url, credentials, headers=headers, params=params or None, **kwargs
            )
        target = httpx.URL(url).copy_merge_params(params)
        target = target.copy_remove_param("access_token")
        if proof is not None:
            target = target.copy_set_param("appsecret_proof", proof)
        return await super().call(method, str(target), credentials, headers=headers, **kwargs)

    def error_of(
        self, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> ProviderCallError:
        """The definition's reading, with the wait Meta's usage headers announce."""
        seen = httpx.Headers(headers or {})  # header names in any case
        error = super().error_of(status, body, seen)
        if error.reason == Reason.RATE_LIMITED:
            wait = usage_wait(seen)
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
        """The ad account's Insights, one row per day, page after page."""
        url: str | None = (
            self.url(GRAPH + "/") + quote(ad_account(account_id), safe="") + "/insights"
        )
        params: dict[str, str] | None = insights_params(start, end)
        rows: list[Any] = []
        for _ in range(MAX_INSIGHTS_PAGES):
            if url is None:
                break
            body = await self.call("GET", url, credentials, params=params)
            rows += list(answers.found(body, "data.*"))
            following = answers.first(body, "paging.next")
            url, params = (str(following), None) if following else (None, None)
        return daily_metrics(rows, start, end)


def _may_hold_token(query: str) -> bool:
    """Whether a query string may name `access_token` (written plainly or percent-encoded)."""
    return "access_token" in query or "%" in query


def ad_account(account_id: str) -> str:
    """Graph's id of an ad account: `act_<number>` (accounts stored by number work too)."""
    return account_id if account_id.startswith("act_") else f"act_{account_id}"


def insights_params(start: date, end: date) -> dict[str, str]:
    """Account-level figures per day over the range."""
    time_range = {"since": start.isoformat(), "until": end.isoformat()}
    return {
        "level": "account",
        "time_increment": "1",
        "time_range": json.dumps(time_range, separators=(",", ":")),
        "fields": INSIGHTS_FIELDS,
        "limit": INSIGHTS_PAGE_SIZE,
    }


def daily_metrics(rows: Iterable[Any], start: date, end: date) -> list[DailyMetrics]:
    """Insights rows as Tether's days; a day Meta left out (no delivery) is a day of zeros."""
    return zero_filled((m for m in map(_day_of, rows) if m is not None), start, end)


def _day_of(row: Any) -> DailyMetrics | None:
    if not isinstance(row, dict) or not isinstance(row.get("date_start"), str):
        return None
    currency = row.get("account_currency")
    return DailyMetrics(
        date.fromisoformat(row["date_start"]),
        _count(row.get("impressions")),
        _count(row.get("clicks")),
        _number(row.get("spend")),
        conversions_of(row.get("actions")),
        str(currency) if currency else None,
    )


# Every action type `conversions_of` may count.
_CONVERSION_TYPES = frozenset(kind for kinds in CONVERSION_ACTIONS for kind in kinds)


def conversions_of(actions: Any) -> int:
    """Purchases, leads and completed registrations, each counted once (see the docstring)."""
    counts: dict[str, Any] = {}
    for a in actions or ():
        if isinstance(a, dict):
            kind = a.get("action_type")
            if isinstance(kind, str) and kind in _CONVERSION_TYPES:
                counts[kind] = a.get("value")  # a type listed twice: its last value
    total = Decimal(0)
    for kinds in CONVERSION_ACTIONS:
        present = next((kind for kind in kinds if kind in counts), None)
        if present is not None:
            total += _number(counts[present])
    return int(total)


def _count(value: Any) -> int:
    """A whole figure (impressions, clicks): digits read at once, anything else as `_number`."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return int(_number(value))


def _number(value: Any) -> Decimal:
    """A figure Meta writes as a string ("12", "34.56"); absent is zero."""
    if value is None or isinstance(value, bool):
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def usage_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds until Meta lets calls through again, from the JSON in its usage headers."""
    found = httpx.Headers(headers)
    waits = [
        minutes * 60
        for usage in answers.found(_json_header(found, "x-business-use-case-usage"), "*.*")
        if isinstance(usage, dict)
        and (minutes := answers.seconds(usage.get("estimated_time_to_regain_access"))) is not None
    ]
    reset = answers.seconds(
        answers.first(_json_header(found, "x-ad-account-usage"), "reset_time_duration")
    )
    if reset is not None:
        waits.append(reset)
    positive = [wait for wait in waits if wait > 0]
    return max(positive) if positive else None


def _json_header(headers: httpx.Headers, name: str) -> Any:
    try:
        return json.loads(headers.get(name, "null"))
    except ValueError:
        return None


def appsecret_proof(credentials: Credentials, app_secret: str | None) -> str | None:
    """HMAC-SHA256 of the token keyed by the app secret, which Meta checks when the app
    requires it; None without a secret (e.g. the sandbox standing in)."""
    token = credentials.access_token or credentials.api_key
    if not app_secret or not token:
        return None
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
