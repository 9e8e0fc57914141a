"""Microsoft Advertising: sign-in through the Microsoft identity platform, the accounts of the
Customer Management service and the Reporting service's daily account report, over the Bing Ads
API v13's REST endpoints (JSON, no SOAP client).

Facts (research notes B1-B7, and the sources named; "Ads docs" are Microsoft's own pages,
github.com/MicrosoftDocs/Advertising `advertising/bingads-13/`, the same as learn.microsoft.com):
- Sign-in: `login.microsoftonline.com/common/oauth2/v2.0/authorize`, the code traded at
  `.../common/oauth2/v2.0/token`. Scopes: `https://ads.microsoft.com/msads.manage`, and
  `offline_access` for a refresh token. PKCE is recommended "for all application types". A web
  app sends its client secret in the form, and every token request, code and refresh alike,
  carries `scope` (Ads docs: guides/authentication-oauth-consent.md, -get-tokens.md). `common`
  takes work and personal accounts alike, which Microsoft advises for the Ads API.
- Tokens: an access token lives about an hour (`expires_in`). Every refresh hands back a new
  refresh token and old ones are not revoked; refresh tokens last 90 days (B1); one unused for
  90 days is refused with `invalid_grant` AADSTS700082 (B2). The token answer never says when a
  refresh token ends. A confidential client's refresh tokens outlive a user's own password
  change; a grant whose sessions were revoked is refused with AADSTS50173, whose words name a
  password change or reset; consent removed is AADSTS65001 "The user or administrator has not
  consented" (B7); MFA newly required is AADSTS50076/50079 (Entra's error-code reference).
  Entra's errors carry `error_codes` and a description that starts with the AADSTS code and
  ends with trace and correlation ids.
- REST, not SOAP: Microsoft moves the API to REST and retires SOAP on 31 January 2027 (Ads docs
  guides/migrate-to-rest.md). Each operation Tether needs has a REST URL: GetUser
  `clientcenter.api.bingads.microsoft.com/CustomerManagement/v13/User/Query`, SearchAccounts
  `.../Accounts/Search`, and `reporting.api.bingads.microsoft.com/Reporting/v13/GenerateReport/
  Submit` and `/Poll` (each operation's REST page; Microsoft's PHP REST SDK, Configuration.php).
  Calls carry `Authorization: Bearer` and `DeveloperToken`; the Reporting service also
  `CustomerId`, the customer that owns the account, and `CustomerAccountId` (request headers,
  guides/get-started.md). Ids are int64 written as JSON strings (the REST SDK's models).
- Accounts: GetUser without `UserId` answers the signed-in user; SearchAccounts with the
  predicate `UserId` answers every account the user reaches, each with `ParentCustomerId` and
  `CurrencyCode`, paged by `PageInfo` (`Index` from 0, `Size` up to 1,000) (get-started.md "Get
  your account and customer IDs", paging.md, predicate.md; B5).
- Reports: SubmitGenerateReport answers a `ReportRequestId`; PollGenerateReport answers
  `Status` Pending, Success or Error and, on Success, a `ReportDownloadUrl` valid five minutes
  to a zip of the file, or none when there is no data (reportrequeststatus.md). Microsoft
  suggests polling for minutes. Daily data is kept 36 months (B6).
- Errors: a REST fault is an ApplicationFault: `{"TrackingId", "Type": "AdApiFaultDetail",
  "Errors": [{"Code", "ErrorCode", "Message", "Detail"}]}` for authentication, throttling and
  internal errors, or an `ApiFault`/`ApiFaultDetail` with `OperationErrors` (the REST SDK's
  models; segmentio/action-destinations saw a 401 of code 109 in that shape). Codes (B3): 105
  InvalidCredentials, 106 UserIsNotAuthorized (credentials fine, entity out of reach: B4), 108
  UserCompromised, 109 AuthenticationTokenExpired, 117 CallRateExceeded ("resubmit the request
  under the limit after waiting 60 seconds": B4, services-protocol.md), 0 InternalError; the
  Reporting service's 207 ConcurrentRequestOverLimit and 2003 AccountNotAuthorized.

Decisions where Microsoft does not say:
- 109 reads as `token_expired`: Tether refreshes once on the spot, and the token endpoint says
  the rest. 105 reads as `token_revoked` (Microsoft honours the credentials no more; it also
  answers 105 to a developer token of the wrong environment, and its words are kept for the
  operator to see). 106 and 2003 read as `access_removed`; 108 as `password_changed`, since
  Microsoft asks the person to create a new password.
- At the token endpoint: AADSTS700082 and 70008 read as `token_expired`; 50173 (and the password
  errors 50132, 50133, 50055) as `password_changed`, though an administrator revoking every
  session gets the same words; MFA and Conditional Access (50076, 50078, 50079, 50158, 53003,
  `interaction_required`) as `access_denied`; a grant refused for scopes as `scope_missing`; any
  other `invalid_grant`, consent removed included, as `token_revoked`. The app's own problems
  (`invalid_client`, an expired client secret: AADSTS7000222) are `unknown`, the operator's to
  fix; so is any refusal of a code at sign-in, where no grant has lapsed yet. `temporarily_
  unavailable` is a passing outage. Entra's trace lines are cut from the message shown.
- The idle end: Tether sets a grant's `refresh_expires_at` to 90 days after consent and after
  each refresh. The hourly token is refreshed ahead of its end, so a grant in use never nears
  it; when refreshes keep failing, the *expiring* warning comes before it.
- 117 waits 60 seconds unless `Retry-After` says longer (none is documented); 207 waits
  Tether's own back-off.
- Revocation: the identity platform has no endpoint an app can call to give a user's grant back
  (revoking sessions needs Microsoft Graph permissions beyond msads.manage). Deleting an
  authorization calls nothing; the member removes the app at myapps.microsoft.com (work
  accounts) or account.live.com/consent/Manage (personal ones).
- Accounts: every account SearchAccounts answers, paused or suspended ones too (their history
  still loads); the customer id is kept as the account's manager id and sent as `CustomerId`.
- Reports: one account a report, at most 366 days a call (no documented cap), columns
  `TimePeriod`, `CurrencyCode`, `Impressions`, `Clicks`, `Spend`, `Conversions` (rounded half up
  when fractional). Polled at once, then after 1, 2, 4, 8, 15 and 30 seconds: a report still
  pending, or one that failed, is a passing failure, and the next sync asks again. Days without
  a row are zeros. The download URL is fetched without Tether's credentials: it is signed for
  whoever holds it, and Microsoft warns its host may change.
- Restatement: the last 30 days are loaded again each sync (a conversion goal's default
  conversion window, 30 days; unconfirmed in the API's docs).
- HTTP statuses (401 for 105 and 109, 403 for 106, 429 for 117) are assumed: the REST SDK lists
  400, 401, 403 and 500 for every operation; Tether reads the codes, never the status alone.
"""

import asyncio
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from tether.providers import answers
from tether.providers.base import (
    AuthKind,
    Credentials,
    DailyMetrics,
    ExternalAccount,
    Identity,
    ProviderCallError,
    Reason,
    TokenGrant,
)
from tether.providers.daily import unreadable, zero_filled
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
from tether.providers.microsoft_reports import (
    daily_metrics,
    failed,
    not_ready,
    report_request,
    rows_of,
)
from tether.providers.transport import unreachable

NAME = "Microsoft Advertising"
DIALECT = "microsoft"
BASES = {
    "login": "https://login.microsoftonline.com",
    "clientcenter": "https://clientcenter.api.bingads.microsoft.com",
    "reporting": "https://reporting.api.bingads.microsoft.com",
}
SCOPES = ("https://ads.microsoft.com/msads.manage", "offline_access")
ACCESS_SECONDS = 3600
IDLE_SECONDS = 90 * 86400
LOGIN = "{login}/common/oauth2/v2.0"
GET_USER = "{clientcenter}/CustomerManagement/v13/User/Query"
SEARCH_ACCOUNTS = "{clientcenter}/CustomerManagement/v13/Accounts/Search"
SUBMIT = "{reporting}/Reporting/v13/GenerateReport/Submit"
POLL = "{reporting}/Reporting/v13/GenerateReport/Poll"
PAGE_SIZE = 1000
# A listing that never stops paging is a Microsoft bug, not a reason to loop forever.
MAX_PAGES = 200
# Seconds between polls of a report; its first poll is at once.
REPORT_WAITS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
CALL_RATE_EXCEEDED = "117"
# Microsoft's guide: "resubmit the request under the limit after waiting 60 seconds".
CALL_RATE_WAIT = 60.0
# Passing faults keep their reason at sign-in; any other refusal of a code is no lapse.
_SIGN_IN_PASSES = frozenset({Reason.RATE_LIMITED, Reason.PROVIDER_OUTAGE})

_CODES = ("Errors.*.Code", "OperationErrors.*.Code")


def _ads(reason: Reason, *codes: int) -> tuple[ErrorRule, ...]:
    """A reason for these operation codes, in either list of a fault."""
    return tuple(rule(reason, {path: codes}) for path in _CODES)


def _aadsts(reason: Reason, *codes: int) -> tuple[ErrorRule, ...]:
    """A reason for these AADSTS codes, read in `error_codes` or at the start of the
    description (the documented bodies without `error_codes`)."""
    described = tuple(
        rule(reason, contains={"error_description": f"AADSTS{code}:"}) for code in codes
    )
    return (rule(reason, {"error_codes.*": codes}), *described)


TOKEN_RULES: tuple[ErrorRule, ...] = (
    rule(Reason.UNKNOWN, {"error": ("invalid_client", "unauthorized_client", "invalid_request")}),
    rule(Reason.RATE_LIMITED, {"error": "temporarily_unavailable"}, statuses=[429]),
    rule(Reason.PROVIDER_OUTAGE, {"error": "temporarily_unavailable"}),
    *_aadsts(Reason.TOKEN_EXPIRED, 700082, 70008),
    *_aadsts(Reason.PASSWORD_CHANGED, 50173, 50132, 50133, 50055),
    *_aadsts(Reason.ACCESS_DENIED, 50076, 50078, 50079, 50158, 53003),
    rule(Reason.ACCESS_DENIED, {"error": "interaction_required"}),
    rule(Reason.SCOPE_MISSING, contains={"error_description": "scopes requested are unauthorized"}),
    rule(Reason.TOKEN_REVOKED, {"error": "invalid_grant"}),
)
API_RULES: tuple[ErrorRule, ...] = (
    *_ads(Reason.TOKEN_EXPIRED, 109),
    *_ads(Reason.TOKEN_REVOKED, 105),
    *_ads(Reason.PASSWORD_CHANGED, 108),
    *_ads(Reason.ACCESS_REMOVED, 106, 2003),
    *_ads(Reason.RATE_LIMITED, 117, 207),
    *_ads(Reason.PROVIDER_OUTAGE, 0),
)
MESSAGE_PATHS = (
    "Errors.*.Message",
    "OperationErrors.*.Message",
    "Message",
    "error_description",
    "error",
)

MICROSOFT_ADS = ProviderDefinition(
    key="microsoft_ads",
    name=NAME,
    auth_kind=AuthKind.OAUTH2,
    description="Microsoft Advertising (Bing) accounts of every customer you reach: daily "
    "impressions, clicks, spend, conversions.",
    bases=BASES,
    # GetUser: the cheapest call that needs both the token and the developer token.
    identify=Identify(
        url=GET_USER,
        id_path="User.Id",
        name_path="User.UserName",
        email_path="User.ContactInfo.Email",
    ),
    # SearchAccounts by the user's id, paged by PageInfo in the body (list_accounts).
    accounts=Accounts(
        url=SEARCH_ACCOUNTS,
        items_path="Accounts.*",
        id_path="Id",
        name_path="Name",
        currency_path="CurrencyCode",
    ),
    oauth=OAuth(
        authorize_url=LOGIN + "/authorize",
        token_url=LOGIN + "/token",
        revoke_url=None,  # the identity platform has none an app can call (see above)
        scopes=SCOPES,
        authorize_params={"response_mode": "query"},
        token_auth_method=TokenAuthMethod.POST,
        pkce=True,
    ),
    lifetimes=Lifetimes(
        access_seconds=ACCESS_SECONDS,
        refreshable=True,
        rotates_refresh_token=True,
        notes=(
            "Access tokens last about an hour and are refreshed ahead of their end. Every "
            "refresh hands out a new refresh token, which Tether stores at once. A refresh "
            "token unused for 90 days expires: a grant in use never does, and Tether warns "
            "ahead when refreshing keeps failing. Removing the app, a revocation of the "
            "person's sessions or a new MFA requirement ends it sooner."
        ),
    ),
    errors=Errors(
        rules=(*TOKEN_RULES, *API_RULES),
        message_paths=MESSAGE_PATHS,
        rate_limits=RateLimits(retry_after_header=True),
    ),
    reports=Reports(max_days_per_call=366, history_days=1095, restate_days=30),
    dialect=DIALECT,
    setting_headers={"DeveloperToken": "developer_token"},
    setup=Setup(
        register_url="https://portal.azure.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
        steps=(
            "In the Azure portal's App registrations, register an app for \"Accounts in any "
            'organizational directory and personal Microsoft accounts".',
            "Under Authentication, add a Web platform with the redirect URI below; under "
            "Certificates & secrets, create a client secret (it expires: renew it in time).",
            "Set the application (client) id as CLIENT_ID and the secret's value as "
            "CLIENT_SECRET; get a developer token in Microsoft Advertising (Settings → "
            "Developer settings) and set it as DEVELOPER_TOKEN.",
        ),
        extra_settings=("developer_token",),
    ),
)


class MicrosoftAdsProvider(DefinedProvider):
    """Microsoft's code beyond its definition: token requests that carry their scope, the
    refresh token's idle end, the REST calls (all POSTs with a JSON body), account paging, the
    60-second wait of a throttle, and the report to submit, poll and download."""

    # Seconds between polls of a report (a test may shorten them).
    report_waits: tuple[float, ...] = REPORT_WAITS

    async def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant:
        """The code traded for a grant whose refresh token ends after 90 days unused."""
        try:
            grant = await self._oauth().other_grant(
                "authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=code_verifier,
                scope=" ".join(SCOPES),
            )
        except ProviderCallError as error:
            raise _at_sign_in(error) from None
        return with_idle_end(grant)

    async def refresh(self, *, refresh_token: str) -> TokenGrant:
        """A new access token and, always, a new refresh token with 90 days ahead of it."""
        try:
            grant = await self._oauth().other_grant(
                "refresh_token", refresh_token=refresh_token, scope=" ".join(SCOPES)
            )
        except ProviderCallError as error:
            raise worded(error) from None
        return with_idle_end(grant)

    def error_of(
        self, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> ProviderCallError:
        """The definition's reading, Entra's trace lines cut, and the minute a throttle waits."""
        error = worded(super().error_of(status, body, httpx.Headers(headers or {})))  # any case
        if error.reason == Reason.RATE_LIMITED and CALL_RATE_EXCEEDED in codes_of(body):
            error.retry_after = max(error.retry_after or 0.0, CALL_RATE_WAIT)
        return error

    async def identify(self, credentials: Credentials) -> Identity:
        """GetUser: the signed-in user, named as Microsoft names them."""
        body = await self.call("POST", self.url(GET_USER), credentials, json={"UserId": None})
        user = answers.first(body, "User")
        external_id = answers.first(user, "Id")
        if external_id is None:
            raise ProviderCallError(Reason.UNKNOWN, f"{NAME} did not say who this is.")
        email = answers.first(user, "ContactInfo.Email")
        return Identity(str(external_id), person_name(user), str(email) if email else None)

    async def list_accounts(self, credentials: Credentials) -> list[ExternalAccount]:
        """Every account the user reaches, with the customer it belongs to."""
        user_id = (await self.identify(credentials)).external_user_id
        found: dict[str, ExternalAccount] = {}
        for index in range(MAX_PAGES):
            body = await self.call(
                "POST", self.url(SEARCH_ACCOUNTS), credentials, json=search_body(user_id, index)
            )
            page = list(answers.found(body, "Accounts.*"))
            for account in filter(None, map(account_of, page)):
                found.setdefault(account.external_id, account)
            if len(page) < PAGE_SIZE:
                break
        return list(found.values())

    async def fetch_daily(
        self,
        credentials: Credentials,
        *,
        account_id: str,
        start: date,
        end: date,
        manager_id: str | None = None,
    ) -> list[DailyMetrics]:
        """One account's days: a report submitted, polled until it is ready, downloaded."""
        headers = {"CustomerAccountId": account_id}
        if manager_id:
            headers["CustomerId"] = manager_id
        request = report_request(account_id, start, end)
        submitted = await self.call(
            "POST", self.url(SUBMIT), credentials, headers=headers, json=request
        )
        report_id = answers.first(submitted, "ReportRequestId")
        if not report_id:
            raise unreadable(NAME)
        url = await self._ready(credentials, headers, str(report_id))
        if url is None:
            return zero_filled([], start, end)
        return daily_metrics(rows_of(await self._download(url), NAME), start, end, NAME)

    async def _ready(
        self, credentials: Credentials, headers: Mapping[str, str], report_id: str
    ) -> str | None:
        """The report's download URL once it is ready; None when it holds no data."""
        for wait in (0.0, *self.report_waits):
            await asyncio.sleep(wait)
            body = await self.call(
                "POST", self.url(POLL), credentials, headers=headers,
                json={"ReportRequestId": report_id},
            )  # fmt: skip
            status = answers.first(body, "ReportRequestStatus.Status")
            if status == "Success":
                url = answers.first(body, "ReportRequestStatus.ReportDownloadUrl")
                return str(url) if url else None
            if status != "Pending":
                raise failed(NAME, status)
        raise not_ready(NAME, self.report_waits)

    async def _download(self, url: str) -> bytes:
        """The report file, from its signed URL, without Tether's credentials."""
        try:
            response = await self._http.get(url)
        except httpx.HTTPError as error:
            raise unreachable(NAME, error) from None
        if not response.is_success:
            raise ProviderCallError(
                Reason.UNKNOWN,
                f"{NAME}'s report file could not be downloaded (HTTP {response.status_code}); "
                "the next sync asks for a new one.",
                status=response.status_code,
            )
        return response.content


def with_idle_end(grant: TokenGrant) -> TokenGrant:
    """The grant with its refresh token's end: 90 days from now, unused (Microsoft never says)."""
    ends = datetime.now(UTC) + timedelta(seconds=IDLE_SECONDS)
    return TokenGrant(grant.access_token, grant.refresh_token, grant.expires_at, grant.scope, ends)


def worded(error: ProviderCallError, reason: Reason | None = None) -> ProviderCallError:
    """The error in the identity platform's words without the trace lines its descriptions end
    with (and with another reason, when given)."""
    words = error.message.split("\r\n")[0].split("\nTrace ID:")[0].strip() or error.message
    return ProviderCallError(
        reason or error.reason, words, status=error.status, retry_after=error.retry_after
    )


def codes_of(body: Any) -> set[str]:
    """The operation codes of a fault, in either of its lists."""
    return {answers.text(code) for path in _CODES for code in answers.found(body, path)}


def person_name(user: Any) -> str:
    """ "First Last", else the user name Microsoft signs them in with."""
    parts = [answers.first(user, f"Name.{part}") for part in ("FirstName", "LastName")]
    named = " ".join(str(p) for p in parts if p)
    return named or str(answers.first(user, "UserName") or answers.first(user, "Id"))


def search_body(user_id: str, index: int) -> dict[str, Any]:
    """SearchAccounts' body: the accounts of one user, one page of them."""
    return {
        "Predicates": [{"Field": "UserId", "Operator": "Equals", "Value": user_id}],
        "Ordering": [{"Field": "Id", "Order": "Ascending"}],
        "PageInfo": {"Index": index, "Size": PAGE_SIZE},
    }


def account_of(item: Any) -> ExternalAccount | None:
    number = answers.first(item, "Id")
    if number is None:
        return None
    name = answers.first(item, "Name")
    currency = answers.first(item, "CurrencyCode")
    customer = answers.first(item, "ParentCustomerId")
    return ExternalAccount(
        str(number),
        str(name) if name else f"{NAME} account {number}",
        str(currency) if currency else None,
        str(customer) if customer else None,
    )


def _at_sign_in(error: ProviderCallError) -> ProviderCallError:
    """A refused code is no lapse: there is no grant yet. Passing faults stay what they are."""
    return worded(error, error.reason if error.reason in _SIGN_IN_PASSES else Reason.UNKNOWN)
