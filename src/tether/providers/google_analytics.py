"""Google Analytics 4: the properties a grant can read, and their daily advertising figures.

Facts (see the research notes, G10) and the choices made where the docs are silent:
- Accounts: the Admin API's `accountSummaries` lists every Analytics account the user reaches
  with its properties (`propertySummaries[]`), 50 per page by default and at most 200, paged
  by `pageToken`/`nextPageToken`. Each property is one account in Tether, its id the resource
  name ("properties/123"), which is also what the Data API's URL takes. The probe is the same
  call with one account summary per page: cheap, and it fails the way every call fails.
- Report: the Data API's `POST /v1beta/{property}:runReport` with the `date` dimension (rows
  come as YYYYMMDD, in the property's time zone, in no promised order). The figures Tether
  keeps map as: impressions = advertiserAdImpressions, clicks = advertiserAdClicks,
  spend = advertiserAdCost (in the property's currency, `metadata.currencyCode`),
  conversions = keyEvents (GA4's name for conversions since 2024). The advertiser* metrics
  come from linked Google Ads accounts (and imported ad cost); a property without such a link
  reports zeros for them.
- GA4 leaves out the days without data, so a day without a row is loaded as zeros: otherwise
  a quiet day would be recorded as a day the platform no longer serves.
- Limits (unconfirmed): no documented cap on a date range, so 366 days per call; standard
  reports keep aggregated data beyond the property's retention setting (which applies to
  explorations), so three years of history; GA4 may take 24-48 hours to process a day, and
  the property's time zone can be ahead of UTC, so the last four days are loaded again.
- Errors are google.rpc.Status: 403 PERMISSION_DENIED "User does not have sufficient
  permissions for this property." is access removed; 429 RESOURCE_EXHAUSTED ("Exhausted
  property tokens...") is a rate limit; an API not enabled in the operator's Cloud project
  (SERVICE_DISABLED) is the operator's to fix, never a member's lapse.
"""

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from tether.providers import google
from tether.providers.base import AuthKind, Credentials, DailyMetrics, Reason
from tether.providers.daily import unreadable, zero_filled
from tether.providers.definition import Accounts, Paging, ProviderDefinition, Reports, rule

SCOPE = "https://www.googleapis.com/auth/analytics.readonly"

# Tether's figure -> the GA4 metric it is read from.
METRICS = {
    "impressions": "advertiserAdImpressions",
    "clicks": "advertiserAdClicks",
    "spend": "advertiserAdCost",
    "conversions": "keyEvents",
}

# An API the operator has not enabled (or has blocked) answers 403 PERMISSION_DENIED too; it
# is no lapse of the member's grant, and reconnecting would not help.
OPERATOR_RULES = (
    rule(
        Reason.UNKNOWN,
        {"error.details.*.reason": ("SERVICE_DISABLED", "API_KEY_SERVICE_BLOCKED")},
    ),
)

GOOGLE_ANALYTICS = ProviderDefinition(
    key="google_analytics",
    name="Google Analytics",
    auth_kind=AuthKind.OAUTH2,
    description="GA4 properties: advertising impressions, clicks, cost and key events per day.",
    family=google.FAMILY,
    dialect=google.DIALECT,
    bases=google.BASES
    | {
        "analyticsadmin": "https://analyticsadmin.googleapis.com",
        "analyticsdata": "https://analyticsdata.googleapis.com",
    },
    oauth=google.oauth(SCOPE),
    identify=google.IDENTIFY,
    probe_url="{analyticsadmin}/v1beta/accountSummaries?pageSize=1",
    accounts=Accounts(
        url="{analyticsadmin}/v1beta/accountSummaries",
        items_path="accountSummaries.*.propertySummaries.*",
        id_path="property",
        name_path="displayName",
        params={"pageSize": "200"},
        paging=Paging.TOKEN,
        next_path="nextPageToken",
        next_param="pageToken",
    ),
    lifetimes=google.LIFETIMES,
    errors=google.errors(
        *OPERATOR_RULES,
        rule(Reason.RATE_LIMITED, {"error.status": "RESOURCE_EXHAUSTED"}),
        rule(
            Reason.ACCESS_REMOVED,
            {"error.status": "PERMISSION_DENIED"},
            contains={"error.message": "permissions for this property"},
        ),
    ),
    reports=Reports(max_days_per_call=366, history_days=1095, restate_days=4),
    setup=google.setup("the Google Analytics Admin API", "the Google Analytics Data API"),
)


class GoogleAnalyticsProvider(google.GoogleProvider):
    """GA4's daily report over the Data API's runReport."""

    async def fetch_daily(
        self,
        credentials: Credentials,
        *,
        account_id: str,
        start: date,
        end: date,
        manager_id: str | None = None,
    ) -> list[DailyMetrics]:
        body = await self.call(
            "POST",
            self.url("{analyticsdata}/v1beta/") + quote(account_id, safe="/") + ":runReport",
            credentials,
            json=report_request(start, end),
        )
        currency = _text(body.get("metadata", {}).get("currencyCode"))
        served = rows_of(body, currency, self.name)
        return zero_filled(served, start, end, currency)


def report_request(start: date, end: date) -> dict[str, Any]:
    """The runReport body: one row per day of the range, the four metrics Tether keeps."""
    return {
        "dateRanges": [{"startDate": start.isoformat(), "endDate": end.isoformat()}],
        "dimensions": [{"name": "date"}],
        "metrics": [{"name": name} for name in METRICS.values()],
        # Days with all-zero metrics are left out otherwise.
        "keepEmptyRows": True,
        "limit": "10000",
    }


def rows_of(body: Any, currency: str | None, provider_name: str) -> list[DailyMetrics]:
    """The report's rows, read by their headers (GA4 promises no column or row order)."""
    if not isinstance(body, dict):
        raise unreadable(provider_name)
    metrics = [h.get("name") for h in body.get("metricHeaders", []) if isinstance(h, dict)]
    days = []
    for row in body.get("rows", []):
        try:
            day = datetime.strptime(row["dimensionValues"][0]["value"], "%Y%m%d").date()
            values = {str(n): v["value"] for n, v in zip(metrics, row["metricValues"], strict=True)}
            days.append(_daily(day, values, currency))
        except (KeyError, IndexError, TypeError, ValueError, InvalidOperation):
            raise unreadable(provider_name) from None
    return days


def _daily(day: date, values: Mapping[str, str], currency: str | None) -> DailyMetrics:
    def number(figure: str) -> Decimal:
        return Decimal(str(values.get(METRICS[figure], "0")))

    return DailyMetrics(
        day,
        int(number("impressions")),
        int(number("clicks")),
        number("spend").quantize(Decimal("0.01")),
        # Key events can be fractional (counting settings); Tether keeps whole conversions.
        int(number("conversions").to_integral_value()),
        currency,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
