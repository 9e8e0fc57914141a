"""YouTube: the channels a grant owns, and their daily figures from YouTube Analytics.

Facts (YouTube Data API v3 and YouTube Analytics API v2 docs) and the choices made:
- Accounts: `GET youtube/v3/channels?part=snippet&mine=true`, the channels of the signed-in
  Google account (a brand account's channel is picked on Google's consent page), at most 50
  per page, paged by `pageToken`/`nextPageToken`. The probe is the same call with one result.
- Report: `GET youtubeanalytics/v2/reports?ids=channel==<id>&dimensions=day`, answered as
  `columnHeaders` and `rows` (arrays in the headers' order). YouTube Analytics reports
  channel activity, not advertising, so the mapping is only as close as the data allows:
  impressions = views, clicks = cardClicks (clicks on the videos' info cards, the one click
  count YouTube Analytics keeps for a channel), spend = 0 (a channel owner's ad spend lives
  in Google Ads, not here) and conversions = subscribersGained.
- A day without a row is loaded as zeros. YouTube fills in a day two to three days late (the
  report stops at the last day every metric is ready), so the last five days are loaded again
  (unconfirmed: the latency is documented only as "a few days").
- Limits (unconfirmed): no documented cap on a date range, so 366 days per call; three years
  of history.
- Errors are Google API errors with `error.errors[].reason`: quotaExceeded (403, the daily
  Data API quota, reset at midnight Pacific time), rateLimitExceeded and
  userRateLimitExceeded are rate limits; insufficientPermissions is a missing scope;
  forbidden (403, e.g. a channel the user no longer manages) is access removed; authError
  (401) is an expired token. These are tried before Google's generic rules, since a quota
  error also says PERMISSION_DENIED. The quota message holds HTML; the tags are dropped.
"""

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tether.providers import answers, google
from tether.providers.base import AuthKind, Credentials, DailyMetrics, ProviderCallError, Reason
from tether.providers.daily import unreadable, zero_filled
from tether.providers.definition import Accounts, Paging, ProviderDefinition, Reports, rule
from tether.providers.google_analytics import OPERATOR_RULES

SCOPES = (
    "https://www.googleapis.com/auth/youtube.readonly",
    "https://www.googleapis.com/auth/yt-analytics.readonly",
)

# Tether's figure -> the YouTube Analytics metric it is read from (spend has none).
METRICS = {"impressions": "views", "clicks": "cardClicks", "conversions": "subscribersGained"}

# The Data API's daily quota starts again at midnight Pacific time.
QUOTA_ZONE = ZoneInfo("America/Los_Angeles")
_REASONS = "error.errors.*.reason"
_TAG = re.compile(r"<[^>]+>")

YOUTUBE_RULES = (
    *OPERATOR_RULES,
    rule(Reason.UNKNOWN, {_REASONS: "accessNotConfigured"}),
    rule(
        Reason.RATE_LIMITED,
        {_REASONS: ("quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded")},
    ),
    rule(Reason.SCOPE_MISSING, {_REASONS: "insufficientPermissions"}),
    rule(Reason.TOKEN_EXPIRED, {_REASONS: "authError"}),
    rule(
        Reason.ACCESS_REMOVED,
        {
            _REASONS: (
                "forbidden",
                "channelNotFound",
                "youtubeSignupRequired",
                "authenticatedUserAccountClosed",
                "authenticatedUserAccountSuspended",
            )
        },
    ),
    rule(Reason.PROVIDER_OUTAGE, {_REASONS: ("backendError", "internalError")}),
)

YOUTUBE = ProviderDefinition(
    key="youtube",
    name="YouTube",
    auth_kind=AuthKind.OAUTH2,
    description="YouTube channels: views, card clicks and subscribers gained per day.",
    email_grouping="digest",
    family=google.FAMILY,
    dialect=google.DIALECT,
    bases=google.BASES
    | {
        "youtube": "https://www.googleapis.com/youtube/v3",
        "youtubeanalytics": "https://youtubeanalytics.googleapis.com",
    },
    oauth=google.oauth(*SCOPES),
    identify=google.IDENTIFY,
    probe_url="{youtube}/channels?part=snippet&mine=true&maxResults=1",
    accounts=Accounts(
        url="{youtube}/channels",
        items_path="items.*",
        id_path="id",
        name_path="snippet.title",
        params={"part": "snippet", "mine": "true", "maxResults": "50"},
        paging=Paging.TOKEN,
        next_path="nextPageToken",
        next_param="pageToken",
    ),
    lifetimes=google.LIFETIMES,
    errors=google.errors(*YOUTUBE_RULES),
    reports=Reports(max_days_per_call=366, history_days=1095, restate_days=5),
    setup=google.setup("the YouTube Data API v3", "the YouTube Analytics API"),
)


class YouTubeProvider(google.GoogleProvider):
    """A channel's daily report over YouTube Analytics."""

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
            "GET",
            self.url("{youtubeanalytics}/v2/reports"),
            credentials,
            params={
                "ids": f"channel=={account_id}",
                "startDate": start.isoformat(),
                "endDate": end.isoformat(),
                "metrics": ",".join(METRICS.values()),
                "dimensions": "day",
                "sort": "day",
            },
        )
        return zero_filled(rows_of(body, self.name), start, end)

    def error_of(
        self, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> ProviderCallError:
        """Google's reading, the quota's HTML dropped, and a spent daily quota waited out."""
        error = super().error_of(status, body, headers)
        error.message = _TAG.sub("", error.message)
        error.args = (error.message,)
        if error.retry_after is None and "quotaExceeded" in answers.found(body, _REASONS):
            error.retry_after = seconds_to_quota_reset(datetime.now(UTC))
        return error


def rows_of(body: Any, provider_name: str) -> list[DailyMetrics]:
    """The result table's rows, read by their column headers."""
    if not isinstance(body, dict):
        raise unreadable(provider_name)
    columns = [h.get("name") for h in body.get("columnHeaders", []) if isinstance(h, dict)]
    days = []
    for row in body.get("rows") or []:
        try:
            values = dict(zip(columns, row, strict=True))
            days.append(_daily(values))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            raise unreadable(provider_name) from None
    return days


def _daily(values: dict[str | None, Any]) -> DailyMetrics:
    def count(figure: str) -> int:
        return int(Decimal(str(values.get(METRICS[figure]) or 0)))

    day = date.fromisoformat(str(values["day"]))
    return DailyMetrics(
        day, count("impressions"), count("clicks"), Decimal("0.00"), count("conversions"), None
    )


def seconds_to_quota_reset(now: datetime) -> float:
    """Seconds until the next midnight in Pacific time, when the daily quota starts again."""
    tomorrow = now.astimezone(QUOTA_ZONE).date() + timedelta(days=1)
    midnight = datetime.combine(tomorrow, time(), QUOTA_ZONE)
    # In UTC: aware datetimes of one zone subtract as wall clocks, wrong across a DST change.
    return max(0.0, (midnight.astimezone(UTC) - now.astimezone(UTC)).total_seconds())
