"""Google Ads: every account a sign-in reaches, the clients of its manager (MCC) accounts
included, and their daily impressions, clicks, cost and conversions over GAQL.

Facts (see the research notes, G1-G9) and the choices made where the docs are silent:
- Accounts: `customers:listAccessibleCustomers` names the customers the user reaches directly
  (G8); a manager's clients are not among them. For each one Tether asks its `customer_client`
  rows with `login-customer-id` set to it: a manager answers with every client under it, at
  any depth; any other customer answers with itself. A client is reached through the manager
  it was found under (its `manager_id`, sent back as `login-customer-id` on its reports), or
  directly when the user also reaches it directly. An accessible customer that refuses the
  query (cancelled: `CUSTOMER_NOT_ENABLED`) is left out instead of failing the whole list.
- Probe: `listAccessibleCustomers`, the cheapest call that needs the token and the developer
  token alike.
- Report: `googleAds:searchStream` with GAQL over the `customer` resource, one row per
  `segments.date` (G9). Cost comes in micros of the account's currency; conversions are a
  double (fractional with data-driven attribution) and are rounded half up. Google leaves out
  the days without impressions, so a day without a row is loaded as zeros.
- Limits (unconfirmed): no documented cap on a `segments.date` range for `customer`, so 366
  days per call; Tether keeps three years of history; conversions land on the click's day for
  the conversion window (30 days by default), so the last 30 days are loaded again each day.
- Errors: the `GoogleAdsFailure` in `error.details` names the cause (G3, G4, G6) and its
  message is the one kept for the screen. `QuotaError` carries `retryDelay` ("30s"), which the
  back-off honours. Developer-token and Cloud-project problems are the operator's to fix,
  never a member's lapse. `NOT_ADS_USER`, `CUSTOMER_NOT_FOUND` and the 2-Step/Advanced
  Protection enrolment errors are read as access removed (plausible: the grant no longer
  reaches the account until a person acts). Google does not say when a grant died of a
  password change: such a grant reads as revoked, like at the token endpoint (G1).
"""

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from tether.providers import answers, google
from tether.providers.base import (
    AuthKind,
    Credentials,
    DailyMetrics,
    ExternalAccount,
    ProviderCallError,
    Reason,
)
from tether.providers.daily import zero_filled
from tether.providers.definition import ProviderDefinition, RateLimits, Reports, rule

# The one pinned version of the Google Ads API (each lives about a year).
API_VERSION = "v21"
SCOPE = "https://www.googleapis.com/auth/adwords"
_API = "{ads}/" + API_VERSION

# Inside a GoogleAdsFailure (REST): error.details[].errors[].{errorCode, message, details}.
_CODE = "error.details.*.errors.*.errorCode."
AUTHENTICATION = _CODE + "authenticationError"
AUTHORIZATION = _CODE + "authorizationError"
QUOTA = _CODE + "quotaError"
REQUEST = _CODE + "requestError"
MESSAGE = "error.details.*.errors.*.message"
RETRY_DELAY = "error.details.*.errors.*.details.quotaErrorDetails.retryDelay"

ADS_RULES = (
    # The operator's developer token or Cloud project: reconnecting would not help.
    rule(Reason.UNKNOWN, {AUTHENTICATION: "DEVELOPER_TOKEN_INVALID"}),
    rule(
        Reason.UNKNOWN,
        {
            AUTHORIZATION: (
                "DEVELOPER_TOKEN_NOT_APPROVED",
                "DEVELOPER_TOKEN_PROHIBITED",
                "DEVELOPER_TOKEN_NOT_ON_ALLOWLIST",
                "PROJECT_DISABLED",
            )
        },
    ),
    rule(Reason.UNKNOWN, {REQUEST: "DEVELOPER_TOKEN_PARAMETER_MISSING"}),
    rule(Reason.UNKNOWN, {QUOTA: "ACCESS_PROHIBITED"}),
    rule(
        Reason.UNKNOWN, {"error.details.*.reason": ("SERVICE_DISABLED", "API_KEY_SERVICE_BLOCKED")}
    ),
    rule(Reason.TOKEN_EXPIRED, {AUTHENTICATION: "OAUTH_TOKEN_EXPIRED"}),
    rule(
        Reason.TOKEN_REVOKED,
        {
            AUTHENTICATION: (
                "OAUTH_TOKEN_REVOKED",
                "OAUTH_TOKEN_INVALID",
                "OAUTH_TOKEN_DISABLED",
                "GOOGLE_ACCOUNT_DELETED",
            )
        },
    ),
    rule(
        Reason.ACCESS_REMOVED,
        {
            AUTHENTICATION: (
                "NOT_ADS_USER",
                "CUSTOMER_NOT_FOUND",
                "TWO_STEP_VERIFICATION_NOT_ENROLLED",
                "ADVANCED_PROTECTION_NOT_ENROLLED",
            )
        },
    ),
    rule(
        Reason.ACCESS_REMOVED,
        {
            AUTHORIZATION: (
                "USER_PERMISSION_DENIED",
                "CUSTOMER_NOT_ENABLED",
                "INVALID_LOGIN_CUSTOMER_ID_SERVING_CUSTOMER_ID_COMBINATION",
            )
        },
    ),
    rule(
        Reason.RATE_LIMITED,
        {
            QUOTA: (
                "RESOURCE_EXHAUSTED",
                "RESOURCE_TEMPORARILY_EXHAUSTED",
                "EXCESSIVE_SHORT_TERM_QUERY_RESOURCE_CONSUMPTION",
                "EXCESSIVE_LONG_TERM_QUERY_RESOURCE_CONSUMPTION",
            )
        },
    ),
)

GOOGLE_ADS = ProviderDefinition(
    key="google_ads",
    name="Google Ads",
    auth_kind=AuthKind.OAUTH2,
    description=(
        "Google Ads accounts, with every client of a manager (MCC) account: impressions, "
        "clicks, cost and conversions per day."
    ),
    family=google.FAMILY,
    dialect=google.DIALECT,
    bases=google.BASES | {"ads": "https://googleads.googleapis.com"},
    oauth=google.oauth(SCOPE),
    identify=google.IDENTIFY,
    probe_url=_API + "/customers:listAccessibleCustomers",
    setting_headers={"developer-token": "developer_token"},
    lifetimes=google.LIFETIMES,
    errors=google.errors(
        *ADS_RULES,
        message_paths=(MESSAGE,),
        rate_limits=RateLimits(retry_after_header=True, body_delay_paths=(RETRY_DELAY,)),
    ),
    reports=Reports(max_days_per_call=366, history_days=1095, restate_days=30),
    setup=google.setup("the Google Ads API", extra=("developer_token",)),
)

# Every client at any depth under a manager; a customer that is no manager is its own client.
HIERARCHY_QUERY = (
    "SELECT customer_client.id, customer_client.descriptive_name, "
    "customer_client.currency_code FROM customer_client "
    "WHERE customer_client.manager = FALSE AND customer_client.status = 'ENABLED'"
)
REPORT_QUERY = (
    "SELECT segments.date, customer.currency_code, metrics.impressions, metrics.clicks, "
    "metrics.cost_micros, metrics.conversions FROM customer "
    "WHERE segments.date BETWEEN '{start}' AND '{end}'"
)
# Hierarchy queries at once: one per accessible customer.
HIERARCHY_CONCURRENCY = 4
_MICROS = Decimal(1_000_000)


class GoogleAdsProvider(google.GoogleProvider):
    """Manager hierarchies and the daily report, over GoogleAdsService.SearchStream."""

    async def list_accounts(self, credentials: Credentials) -> list[ExternalAccount]:
        """Every client account the grant reaches, directly or through a manager."""
        roots = await self.accessible_customers(credentials)
        gate = asyncio.Semaphore(HIERARCHY_CONCURRENCY)

        async def clients_of(root: str) -> list[ExternalAccount]:
            async with gate:
                return await self._clients_of(credentials, root)

        found: dict[str, ExternalAccount] = {}
        # Every call runs to its end (none is left behind); the first refusal then wins.
        answered = await asyncio.gather(*(clients_of(r) for r in roots), return_exceptions=True)
        for accounts in answered:
            if isinstance(accounts, BaseException):
                raise accounts
            for account in accounts:
                # Reached directly beats reached through a manager: it needs no manager link.
                if account.external_id not in found or account.manager_id is None:
                    found[account.external_id] = account
        return list(found.values())

    async def accessible_customers(self, credentials: Credentials) -> list[str]:
        """The ids of the customers the user reaches directly (managers among them)."""
        url = self.url(_API + "/customers:listAccessibleCustomers")
        body = await self.call("GET", url, credentials)
        names = answers.found(body, "resourceNames.*")
        return [name.removeprefix("customers/") for name in names if isinstance(name, str)]

    async def _clients_of(self, credentials: Credentials, root: str) -> list[ExternalAccount]:
        try:
            rows = await self.search(credentials, root, HIERARCHY_QUERY, login_customer_id=root)
        except ProviderCallError as error:
            if error.reason == Reason.ACCESS_REMOVED:
                return []  # listed, but no longer served (e.g. cancelled)
            raise
        accounts = []
        for row in rows:
            client_id = answers.first(row, "customerClient.id")
            if client_id is None:
                continue
            name = answers.first(row, "customerClient.descriptiveName") or client_id
            currency = answers.first(row, "customerClient.currencyCode")
            manager = root if str(client_id) != root else None
            accounts.append(
                ExternalAccount(str(client_id), str(name), str(currency or "") or None, manager)
            )
        return accounts

    async def search(
        self,
        credentials: Credentials,
        customer_id: str,
        query: str,
        *,
        login_customer_id: str | None = None,
    ) -> list[Any]:
        """The rows of one GAQL query, over searchStream (one answer, however many rows)."""
        customer = quote(_digits(customer_id), safe="")
        url = self.url(_API + "/customers/") + customer + "/googleAds:searchStream"
        headers = {"login-customer-id": _digits(login_customer_id)} if login_customer_id else {}
        body = await self.call("POST", url, credentials, headers=headers, json={"query": query})
        return list(answers.found(body, "*.results.*"))

    async def fetch_daily(
        self,
        credentials: Credentials,
        *,
        account_id: str,
        start: date,
        end: date,
        manager_id: str | None = None,
    ) -> list[DailyMetrics]:
        """One account's days, through its manager when it was found under one."""
        query = REPORT_QUERY.format(start=start.isoformat(), end=end.isoformat())
        rows = await self.search(credentials, account_id, query, login_customer_id=manager_id)
        days = self._reported_days(start, end)
        if not days:
            return []
        return zero_filled((day_of(row, self.name) for row in rows), days[0], days[-1])

    def _reported_days(self, start: date, end: date) -> list[date]:
        """The days Google reports on: none in the future, none past the history kept."""
        today = datetime.now(UTC).date()
        history = self.definition.reports.history_days if self.definition.reports else 1
        first, last = max(start, today - timedelta(days=history - 1)), min(end, today)
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def day_of(row: Any, provider_name: str = "Google Ads") -> DailyMetrics:
    """One GoogleAdsRow of the report (REST JSON: int64 as strings) as Tether's day."""
    try:
        day = date.fromisoformat(str(answers.first(row, "segments.date")))
        spend = Decimal(str(answers.first(row, "metrics.costMicros") or 0)) / _MICROS
        conversions = Decimal(str(answers.first(row, "metrics.conversions") or 0))
        if not (spend.is_finite() and conversions.is_finite()):
            raise ValueError("not a number")
        currency = answers.first(row, "customer.currencyCode")
        return DailyMetrics(
            day,
            int(answers.first(row, "metrics.impressions") or 0),
            int(answers.first(row, "metrics.clicks") or 0),
            spend,
            int(conversions.quantize(Decimal(1), rounding=ROUND_HALF_UP)),
            str(currency) if currency else None,
        )
    except (ValueError, TypeError, InvalidOperation):
        # Retried like any unknown failure: a report Tether cannot read is never a lapse.
        raise ProviderCallError(
            Reason.UNKNOWN, f"{provider_name}'s report holds a row that Tether cannot read."
        ) from None


def _digits(customer_id: str) -> str:
    """A customer id as the API takes it: "123-456-7890" is written 1234567890."""
    return customer_id.replace("-", "")
