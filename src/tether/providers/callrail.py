"""CallRail: call tracking, connected with a user's API key; its companies are the accounts.

Facts (CallRail API v3 reference, apidocs.callrail.com):
- Every call carries `Authorization: Token token="<key>"`. A key is a user's: it reaches what
  that user sees, and lasts until the user deletes or replaces it. There is no OAuth.
- `GET /v3/a.json` lists the CallRail accounts the key reaches (an agency has one, holding a
  company per client); `GET /v3/a/{account}/companies.json` lists an account's companies.
  Both page by `page`/`per_page` (at most 250) with `total_pages`.
- `GET /v3/a/{account}/calls/timeseries.json?interval=day` answers `data[]` with `date` and
  `total_calls` for every day of the range, zero days included, at most 200 points per call,
  in the account's time zone. Calls and other records are kept 25 months; asking further
  back is refused.
- Status codes: 401 (no valid key), 403 (the key cannot reach it), 404, 422, 429 (hourly and
  daily limits: 1,000 and 10,000 general requests), 500, 503 (maintenance). Errors carry a
  JSON `error`.

Decisions:
- The accounts Tether lists are companies, each reached through its CallRail account (kept as
  the account's manager id): agencies run one company per client, so that is what a
  connection maps to.
- Calls are the daily figure, loaded as conversions; CallRail has no impressions, clicks or
  spend. The last 2 days are loaded again on each sync: the account's time zone may still be
  in yesterday when Tether's day has turned.
- 401 is `invalid_api_key`, whatever its words; 403 on a company is `access_removed` (the
  user lost it). A 429 without Retry-After waits for the next full hour, when the hourly
  limit starts again (an exhausted daily limit answers 429 again, and Tether backs off).
- Unconfirmed, chosen as plausible: error bodies are `{"error": "<words>"}`.
"""

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
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
from tether.providers.daily import figure, unreadable, zero_filled
from tether.providers.defined import DefinedProvider
from tether.providers.definition import (
    ApiKey,
    Errors,
    Identify,
    Lifetimes,
    ProviderDefinition,
    RateLimits,
    Reports,
    Setup,
    rule,
)

NAME = "CallRail"
DIALECT = "callrail"
BASES = {"api": "https://api.callrail.com"}
ACCOUNTS = "{api}/v3/a.json"
PER_PAGE = 250
MAX_PAGES = 200

CALLRAIL = ProviderDefinition(
    key="callrail",
    name=NAME,
    auth_kind=AuthKind.API_KEY,
    description="Call tracking: daily calls of each CallRail company, as conversions.",
    bases=BASES,
    identify=Identify(url=ACCOUNTS, id_path="accounts.0.id", name_path="accounts.0.name"),
    probe_url=ACCOUNTS + "?per_page=1",
    api_key=ApiKey(
        header="Authorization",
        prefix="Token token=",
        hint="In CallRail, open My Account → API Keys and create a key; it sees what its user "
        "sees.",
    ),
    lifetimes=Lifetimes(
        refreshable=False,
        notes="An API key does not expire; it stops working when its user deletes or "
        "replaces it, or loses access to the account.",
    ),
    errors=Errors(
        rules=(
            rule(Reason.INVALID_API_KEY, statuses={401}),
            rule(Reason.ACCESS_REMOVED, statuses={403}),
        ),
        message_paths=("error", "errors.0", "message"),
        rate_limits=RateLimits(retry_after_header=True),
    ),
    # 25 months of records; 730 days stays inside them whatever the month.
    reports=Reports(max_days_per_call=200, history_days=730, restate_days=2),
    dialect=DIALECT,
    setup=Setup(
        register_url="https://app.callrail.com/settings/api-keys",
        steps=(
            "Nothing to register: each member enters their own CallRail API key when they "
            "connect CallRail.",
        ),
    ),
)


class CallRailProvider(DefinedProvider):
    """CallRail's code beyond its definition: companies as accounts, the hourly wait of a
    throttle, daily calls."""

    def error_of(
        self, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> ProviderCallError:
        """The definition's reading; a throttle without Retry-After waits for the next hour."""
        error = super().error_of(status, body, httpx.Headers(headers or {}))
        if error.reason == Reason.RATE_LIMITED and error.retry_after is None:
            error.retry_after = seconds_to_next_hour(datetime.now(UTC))
        return error

    async def list_accounts(self, credentials: Credentials) -> list[ExternalAccount]:
        """Every company of every CallRail account the key reaches."""
        found: list[ExternalAccount] = []
        for account in await self._pages(self.url(ACCOUNTS), "accounts", credentials):
            account_id = answers.first(account, "id")
            if account_id is None:
                continue
            url = self.url("{api}/v3/a/") + quote(str(account_id), safe="") + "/companies.json"
            for company in await self._pages(url, "companies", credentials):
                found += [a for a in [_company(company, str(account_id))] if a is not None]
        return found

    async def _pages(self, url: str, items: str, credentials: Credentials) -> list[Any]:
        every: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            params = {"page": str(page), "per_page": str(PER_PAGE)}
            body = await self.call("GET", url, credentials, params=params)
            every += list(answers.found(body, f"{items}.*"))
            pages = answers.first(body, "total_pages")
            if not isinstance(pages, int) or page >= pages:
                break
        return every

    async def fetch_daily(
        self,
        credentials: Credentials,
        *,
        account_id: str,
        start: date,
        end: date,
        manager_id: str | None = None,
    ) -> list[DailyMetrics]:
        """The company's calls per day, from its account's time series."""
        if manager_id is None:
            raise unreadable(NAME)  # a company is always listed with its account
        url = self.url("{api}/v3/a/") + quote(manager_id, safe="") + "/calls/timeseries.json"
        params = {
            "company_id": account_id,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "interval": "day",
            "fields": "total_calls",
        }
        body = await self.call("GET", url, credentials, params=params)
        days = (m for m in map(_day_of, answers.found(body, "data.*")) if m is not None)
        return zero_filled(days, start, end)


def _company(company: Any, account_id: str) -> ExternalAccount | None:
    company_id = answers.first(company, "id")
    if company_id is None:
        return None
    name = answers.first(company, "name")
    return ExternalAccount(str(company_id), str(name or company_id), None, manager_id=account_id)


def _day_of(row: Any) -> DailyMetrics | None:
    try:
        day = date.fromisoformat(str(answers.first(row, "date")))
    except ValueError:
        return None
    calls = int(figure(row, "total_calls", NAME))
    return DailyMetrics(day, 0, 0, Decimal(0), calls)


def seconds_to_next_hour(now: datetime) -> float:
    """Seconds until the next full hour, when CallRail's hourly limit starts again."""
    hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return (hour - now).total_seconds()
