"""Amazon Ads: Login with Amazon, the advertiser's profiles in every region, and each profile's
Sponsored Products figures per day from the asynchronous v3 reports (`amazon_reports.py`).

Facts (research notes A1-A5, and the Amazon Ads API documentation at
advertising.amazon.com/API/docs, "ads docs" below):
- Consent at `www.amazon.com/ap/oa` with `client_id`, `scope`, `response_type=code`,
  `redirect_uri`, `state`, and optionally `code_challenge`/`code_challenge_method`, which Login
  with Amazon recommends (ads docs, "Authorization grants"). `advertising::campaign_management`
  is the scope of the Ads API; `profile` lets `api.amazon.com/user/profile` say who signed in
  (`user_id`, `name`, `email`; Login with Amazon, "Obtain Customer Profile Information").
- The code (valid 5 minutes, once) and later the refresh token are traded at
  `POST api.amazon.com/auth/o2/token`, a form with the client id and secret in it, for
  `{access_token "Atza|…", token_type "bearer", expires_in 3600, refresh_token "Atzr|…"}`.
  Access tokens last 60 minutes (A1) and are global: one from any Login with Amazon host
  serves the API in every region; refresh tokens do not expire and are valid until the user
  revokes the authorization (A2, ads docs "Access tokens"), which the user does in their
  Amazon account's "Your Active Apps & Websites" (amazon.com/ap/adam). There is no
  revocation endpoint.
- The API has one host per region: NA `advertising-api.amazon.com` (US, CA, MX, BR), EU
  `advertising-api-eu.amazon.com` (UK, the EU, AE, SA, TR, EG, IN, ZA), FE
  `advertising-api-fe.amazon.com` (JP, AU, SG). Every call carries `Authorization: Bearer`,
  `Amazon-Advertising-API-ClientId`, and, except `/v2/profiles`,
  `Amazon-Advertising-API-Scope: <profileId>` (ads docs, "Authorization overview").
- Accounts are profiles, one per advertiser and marketplace: `GET /v2/profiles` answers a
  plain list (at most 5000, no paging) of `{profileId, countryCode, currencyCode, timezone,
  accountInfo{marketplaceStringId, id, type, name}}`, only the profiles of the host's region
  (ads docs, "Profiles"; A5). `agency` profiles serve DSP only and have no sponsored ads
  reports; `profileTypeFilter=seller,vendor` leaves them out (Airbyte's source-amazon-ads).
- Reports (ads docs, "Get started with version 3 reports", "Campaign reports", FAQ):
  `POST /reporting/reports` (`Content-Type: application/vnd.createasyncreportrequest.v3+json`)
  answers `{reportId, status: PENDING}`; `GET /reporting/reports/{id}` answers PENDING or
  PROCESSING until COMPLETED with a `url` to a gzip JSON file (a list of rows), which is a
  presigned download taking no credentials. `spCampaigns` spans at most 31 days and keeps 95
  days. Asking for an identical report while one is being made answers 425, `{"code": "425",
  "detail": "The Request is a duplicate of : <reportId>"}` (3P: several clients quote it).
  `cost` is in the profile's currency; `purchases7d` counts purchases within 7 days of a click.
  Conversions are restated 1, 7 and 28 days after the conversion, booked on the day of the
  click: with a 7-day window a day may change for 35 days.
- Errors: `{"code", "details"}` (ads docs, "Error responses"): 401 "Not authorized to access
  scope" (not authorized to manage this profile) and "No matching advertiser found for
  scope", 403 Forbidden, 429 with `Retry-After` (A3, A4; ads docs "Rate limiting"), 5xx to
  retry. A token the API no longer takes answers `{"code": "401", "details": "Authentication
  failed"}` (3P, amazon-advertising-api-php-sdk issue 10); the API Gateway throttles with
  `{"message": "Too Many Requests"}` (3P, ads-advanced-tools-docs issue 102). Login with
  Amazon refuses with OAuth's `{"error", "error_description"}`: a dead refresh token is
  `invalid_grant` "The request has an invalid grant parameter : refresh_token. User may have
  revoked or didn't grant the permission.", a bad code "… : code" (3P, several clients).

Decisions and assumptions where Amazon does not say:
- Rotation: the issue says the refresh token rotates on every use, as Login with Amazon's own
  page says (A1: "a new access token and a new refresh token"), while the ads docs say the
  same refresh token comes back. Tether stores whatever a refresh answers at once, so either
  holds; the sandbox rotates.
- PKCE is sent (S256): Login with Amazon recommends it, and the code exchange then carries the
  verifier with the client secret.
- Regions: the consent page is NA's (`www.amazon.com`); codes and tokens are valid on every
  Login with Amazon host, so one token endpoint serves all. An installation whose advertisers
  sign in to Amazon in Europe or the Far East sets the `WWW` base to `eu.account.amazon.com`
  or `apac.account.amazon.com`. Discovery lists `/v2/profiles` on each of the three hosts and
  keeps a profile's region (`NA`, `EU`, `FE`) as its account's manager id, so each report goes
  to the host of its profile with no extra call (a profile's id outside its region's host is
  refused). A profile stored without a region is looked up on the three hosts first.
- An account's name is the advertiser's name and the marketplace (`Northwind (US)`): one
  advertiser has a profile per marketplace, all of the same name.
- A 401 from the API reads as `token_expired` unless its words name the scope: the token lives
  an hour, so Tether refreshes once on the spot and the refresh says the rest. `invalid_grant`
  there reads as `token_revoked`: refresh tokens never expire, so a refused one was revoked
  (the user removing the app; a password change, if it ends the grant, reads the same, since
  Amazon's words are the same). A refused code at sign-in (`: code`) is no lapse (`unknown`).
- 401 naming the scope and 403 read as `access_removed`: the grant no longer reaches that
  profile. `invalid_client`, `unauthorized_client` and their like are the operator's setup
  (`unknown`). Login with Amazon's `ServerError` and `TemporarilyUnavailable` (assumed, from its
  error list) and any 5xx are a passing outage.
- A throttle waits as long as `Retry-After` says; without it (Amazon omits it on report
  requests at times: ads-advanced-tools-docs issue 344), Tether's own back-off.
- Reports: Tether waits about a minute for a report. One not ready by then is a passing
  failure (`unknown`), asked for again at the next sync, whose identical request meets the
  425 and waits for the same report. A report Amazon failed, a download refused (the file's
  link expired) or a file Tether cannot read are passing failures too, never lapses.
- Conversions are `purchases7d`, Amazon's default for Sponsored Products; the last 35 days are
  loaded again on each sync (7 days of attribution, then 28 of restatement), two reports a
  day per profile, within Amazon's advice of one or two per report type. Days without a row
  (no delivery) are loaded as zeros.
"""

import asyncio
import json
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx

from tether.providers import answers
from tether.providers.amazon_reports import (
    COMPLETED,
    CONTENT_TYPE,
    HISTORY_DAYS,
    MAX_DAYS_PER_CALL,
    POLL_WAITS,
    UNDER_WAY,
    daily_metrics,
    duplicate_of,
    failed,
    not_ready,
    report_request,
    rows_of,
)
from tether.providers.base import (
    AuthKind,
    Credentials,
    DailyMetrics,
    ExternalAccount,
    ProviderCallError,
    Reason,
)
from tether.providers.daily import unreadable, windows
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
from tether.providers.transport import unreachable

NAME = "Amazon Ads"
DIALECT = "amazon"
BASES = {
    "www": "https://www.amazon.com",
    "lwa": "https://api.amazon.com",
    "na": "https://advertising-api.amazon.com",
    "eu": "https://advertising-api-eu.amazon.com",
    "fe": "https://advertising-api-fe.amazon.com",
}
# Amazon's regions, by the name Amazon gives them, and the base of each one's API host.
REGIONS = {"NA": "{na}", "EU": "{eu}", "FE": "{fe}"}
SCOPES = ("advertising::campaign_management", "profile")
ACCESS_SECONDS = 3600
CLIENT_ID_HEADER = "Amazon-Advertising-API-ClientId"
SCOPE_HEADER = "Amazon-Advertising-API-Scope"
PROFILES = "/v2/profiles"
PROFILE_TYPES = {"profileTypeFilter": "seller,vendor"}
RESTATE_DAYS = 35

TOKEN_RULES: tuple[ErrorRule, ...] = (
    rule(Reason.UNKNOWN, {"error": "invalid_grant"}, contains={"error_description": ": code"}),
    rule(Reason.TOKEN_REVOKED, {"error": "invalid_grant"}),
    rule(
        Reason.UNKNOWN,
        {"error": ("invalid_client", "unauthorized_client", "unsupported_grant_type")},
    ),
    rule(
        Reason.PROVIDER_OUTAGE,
        {"error": ("ServerError", "TemporarilyUnavailable", "server_error")},
    ),
    rule(Reason.SCOPE_MISSING, {"error": "insufficient_scope"}),
)
API_RULES: tuple[ErrorRule, ...] = (
    rule(Reason.ACCESS_REMOVED, contains={"details": "not authorized to access scope"}),
    rule(Reason.ACCESS_REMOVED, contains={"details": "no matching advertiser found for scope"}),
    rule(Reason.ACCESS_REMOVED, statuses={403}),
    rule(Reason.TOKEN_EXPIRED, statuses={401}),
)
# The API's words (`details`, a 425's `detail`, the gateway's `message`), then OAuth's.
MESSAGE_PATHS = ("details", "detail", "message", "error_description", "error")

AMAZON_ADS = ProviderDefinition(
    key="amazon_ads",
    name=NAME,
    auth_kind=AuthKind.OAUTH2,
    description="Amazon Sponsored Products in every marketplace and region you advertise in: "
    "daily impressions, clicks, spend, purchases.",
    bases=BASES,
    identify=Identify(
        url="{lwa}/user/profile", id_path="user_id", name_path="name", email_path="email"
    ),
    # Cheap, and it proves the Ads API still takes the token with Tether's client id.
    probe_url="{na}" + PROFILES + "?profileTypeFilter=seller,vendor",
    # NA's profiles; AmazonAdsProvider.list_accounts asks each region's host the same.
    accounts=Accounts(
        url="{na}" + PROFILES,
        items_path="*",
        id_path="profileId",
        name_path="accountInfo.name",
        currency_path="currencyCode",
        params=PROFILE_TYPES,
    ),
    oauth=OAuth(
        authorize_url="{www}/ap/oa",
        token_url="{lwa}/auth/o2/token",
        revoke_url=None,  # Login with Amazon has none: the user removes the app at Amazon
        scopes=SCOPES,
        token_auth_method=TokenAuthMethod.POST,
        pkce=True,
    ),
    lifetimes=Lifetimes(
        access_seconds=ACCESS_SECONDS,
        refreshable=True,
        rotates_refresh_token=True,
        notes=(
            "Access tokens last an hour and are refreshed ahead of their end; each refresh "
            "may hand out a new refresh token, which Tether stores at once. Refresh tokens do "
            "not expire: the advertiser removing the app in their Amazon account ends the grant."
        ),
    ),
    errors=Errors(
        rules=(*TOKEN_RULES, *API_RULES),
        message_paths=MESSAGE_PATHS,
        rate_limits=RateLimits(retry_after_header=True),
    ),
    reports=Reports(
        max_days_per_call=MAX_DAYS_PER_CALL, history_days=HISTORY_DAYS, restate_days=RESTATE_DAYS
    ),
    dialect=DIALECT,
    setup=Setup(
        register_url="https://developer.amazon.com/loginwithamazon/console/site/lwa/overview.html",
        steps=(
            "In the Amazon Developer console, create a Login with Amazon security profile; "
            "apply for Amazon Ads API access (advertising.amazon.com/API) and, once approved, "
            "assign that access to the security profile.",
            "Under the security profile's Web Settings, add the redirect URI below to the "
            "Allowed Return URLs.",
            "Set the security profile's client id as CLIENT_ID and its client secret as "
            "CLIENT_SECRET.",
        ),
    ),
)


class AmazonAdsProvider(DefinedProvider):
    """Amazon's code beyond its definition: the client id on every call, the profiles of every
    region, and the asynchronous report of each profile."""

    # Seconds before each look at a report being made (see `amazon_reports.POLL_WAITS`).
    report_waits: tuple[float, ...] = POLL_WAITS

    def auth_headers(self, credentials: Credentials) -> dict[str, str]:
        return {**super().auth_headers(credentials), CLIENT_ID_HEADER: self._client_id()}

    def _client_id(self) -> str:
        # The id alone; the secret stays where it is.
        return self.oauth.app_credentials()[0] if self.oauth is not None else ""

    async def list_accounts(self, credentials: Credentials) -> list[ExternalAccount]:
        """Every seller and vendor profile on each region's host, with its region."""
        found: dict[str, ExternalAccount] = {}
        for region in REGIONS:
            for item in await self._profiles(credentials, region):
                account = _account(item, region)
                if account is not None:
                    found.setdefault(account.external_id, account)
        return list(found.values())

    async def _profiles(self, credentials: Credentials, region: str) -> list[Any]:
        url = self.url(REGIONS[region] + PROFILES)
        body = await self.call("GET", url, credentials, params=PROFILE_TYPES)
        return list(answers.found(body, "*"))

    async def fetch_daily(
        self,
        credentials: Credentials,
        *,
        account_id: str,
        start: date,
        end: date,
        manager_id: str | None = None,
    ) -> list[DailyMetrics]:
        """The profile's Sponsored Products figures per day, one report per 31 days at most."""
        region = manager_id if manager_id in REGIONS else None
        region = region or await self._region_of(credentials, account_id)
        scoped = {SCOPE_HEADER: account_id}
        rows: list[Any] = []
        for first, last in windows(start, end, MAX_DAYS_PER_CALL):
            location = await self._report(credentials, region, scoped, first, last)
            rows += await self._download(location)
        return daily_metrics(rows, start, end)

    async def _region_of(self, credentials: Credentials, profile_id: str) -> str:
        """The region whose host lists the profile."""
        for region in REGIONS:
            items = await self._profiles(credentials, region)
            if any(str(answers.first(i, "profileId")) == profile_id for i in items):
                return region
        raise ProviderCallError(
            Reason.ACCESS_REMOVED, f"{NAME} lists profile {profile_id} in no region any more."
        )

    async def _report(
        self,
        credentials: Credentials,
        region: str,
        scoped: Mapping[str, str],
        first: date,
        last: date,
    ) -> str:
        """Ask for the report of these days (or find the one already being made), wait for it,
        and return where to download it."""
        url = self.url(REGIONS[region] + "/reporting/reports")
        body = json.dumps(report_request(first, last))
        headers = {**scoped, "Content-Type": CONTENT_TYPE}
        try:
            created = await self.call("POST", url, credentials, headers=headers, content=body)
            report_id = answers.first(created, "reportId")
        except ProviderCallError as error:
            report_id = duplicate_of(error)
            if report_id is None:
                raise
        if not report_id:
            raise unreadable(NAME)
        status_url = f"{url}/{quote(str(report_id), safe='')}"
        return await self._completed(credentials, status_url, scoped, first, last)

    async def _completed(
        self,
        credentials: Credentials,
        status_url: str,
        scoped: Mapping[str, str],
        first: date,
        last: date,
    ) -> str:
        status: Any = None
        for wait in self.report_waits:
            if wait > 0:
                await asyncio.sleep(wait)
            report = await self.call("GET", status_url, credentials, headers=scoped)
            status = answers.first(report, "status")
            location = answers.first(report, "url")
            if status == COMPLETED and isinstance(location, str) and location:
                return location
            if status != COMPLETED and status not in UNDER_WAY:
                raise failed(report)
        raise not_ready(first, last, status)

    async def _download(self, location: str) -> list[Any]:
        """The report file, from its presigned link: no credentials travel with it, and a
        refusal there (an expired link) is a passing failure, never a lapse."""
        try:
            response = await self._http.get(location)
        except httpx.HTTPError as error:
            raise unreachable(NAME, error) from None
        if not response.is_success:
            raise ProviderCallError(
                Reason.UNKNOWN,
                f"{NAME}'s report file could not be downloaded (HTTP {response.status_code}).",
                status=response.status_code,
            )
        return rows_of(response.content)


def _account(item: Any, region: str) -> ExternalAccount | None:
    """A profile as Tether's account: the advertiser's name and its marketplace."""
    number = answers.first(item, "profileId")
    if number is None or isinstance(number, bool):
        return None
    name = answers.first(item, "accountInfo.name") or f"{NAME} profile {number}"
    country = answers.first(item, "countryCode")
    currency = answers.first(item, "currencyCode")
    return ExternalAccount(
        str(number),
        f"{name} ({country})" if country else str(name),
        str(currency) if currency else None,
        manager_id=region,
    )
