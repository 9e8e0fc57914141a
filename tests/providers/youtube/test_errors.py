"""YouTube's failed answers, as its APIs send them, read as Tether's reasons; and its result
table read into daily figures."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tether.providers.base import ProviderCallError, Reason
from tether.providers.youtube import YOUTUBE, YouTubeProvider, rows_of, seconds_to_quota_reset

# As the Data API answers a spent daily quota: a 403 without a status, its message in HTML.
QUOTA_MESSAGE = (
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/'
    'getting-started#quota">quota</a>.'
)


@pytest.fixture
async def youtube() -> Any:
    async with httpx.AsyncClient() as http:
        yield YouTubeProvider(YOUTUBE, http=http, bases=YOUTUBE.bases)


def _body(code: int, message: str, reason: str, domain: str = "global", **extra: Any) -> Any:
    item = {"message": message, "domain": domain, "reason": reason}
    return {"error": {"code": code, "message": message, "errors": [item], **extra}}


def test_a_spent_daily_quota_is_a_rate_limit_until_midnight_pacific(
    youtube: YouTubeProvider,
) -> None:
    error = youtube.error_of(403, _body(403, QUOTA_MESSAGE, "quotaExceeded", "youtube.quota"))

    assert error.reason == Reason.RATE_LIMITED
    assert error.message == (
        "The request cannot be completed because you have exceeded your quota."
    )
    assert error.retry_after is not None
    assert 0 < error.retry_after <= 25 * 3600


def test_a_quota_error_that_also_says_permission_denied_is_still_a_rate_limit(
    youtube: YouTubeProvider,
) -> None:
    body = _body(403, QUOTA_MESSAGE, "quotaExceeded", "youtube.quota", status="PERMISSION_DENIED")

    error = youtube.error_of(403, body, {"retry-after": "60"})

    assert (error.reason, error.retry_after) == (Reason.RATE_LIMITED, 60)


@pytest.mark.parametrize("reason", ["rateLimitExceeded", "userRateLimitExceeded"])
def test_short_term_limits_are_rate_limits(youtube: YouTubeProvider, reason: str) -> None:
    body = _body(429, "Quota exceeded for quota metric 'Queries'.", reason)

    assert youtube.error_of(429, body).reason == Reason.RATE_LIMITED


def test_quota_resets_at_the_next_pacific_midnight_across_a_dst_change() -> None:
    # 2025-03-09 is the spring-forward day in Los Angeles: that day has 23 hours.
    just_after_midnight = datetime(2025, 3, 9, 8, 0, tzinfo=UTC)  # 00:00 PST

    assert seconds_to_quota_reset(just_after_midnight) == 23 * 3600


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (
            403,
            _body(
                403,
                "Request had insufficient authentication scopes.",
                "insufficientPermissions",
                status="PERMISSION_DENIED",
            ),
            Reason.SCOPE_MISSING,
        ),
        (
            403,
            _body(403, "Forbidden", "forbidden", status="PERMISSION_DENIED"),
            Reason.ACCESS_REMOVED,
        ),
        (
            404,
            _body(404, "Channel not found.", "channelNotFound", "youtube.channel"),
            Reason.ACCESS_REMOVED,
        ),
        (401, _body(401, "Invalid Credentials", "authError"), Reason.TOKEN_EXPIRED),
        (
            503,
            _body(503, "The service is currently unavailable.", "backendError"),
            Reason.PROVIDER_OUTAGE,
        ),
        (
            403,
            _body(
                403,
                "Access Not Configured. YouTube Data API has not been used in project 1.",
                "accessNotConfigured",
                "usageLimits",
            ),
            Reason.UNKNOWN,
        ),
    ],
)
def test_youtubes_reasons_come_before_googles_generic_rules(
    youtube: YouTubeProvider, status: int, body: Any, reason: Reason
) -> None:
    error = youtube.error_of(status, body)

    assert error.reason == reason
    assert error.message == body["error"]["message"]


def test_a_dead_grant_at_the_token_endpoint_is_revoked(youtube: YouTubeProvider) -> None:
    body = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}

    reason, message = youtube.classify_error(400, body)

    assert (reason, message) == (Reason.TOKEN_REVOKED, "Token has been expired or revoked.")


def _table(rows: list[list[Any]]) -> dict[str, Any]:
    names = ["subscribersGained", "day", "views", "cardClicks"]
    return {
        "kind": "youtubeAnalytics#resultTable",
        "columnHeaders": [
            {"name": n, "columnType": "METRIC", "dataType": "INTEGER"} for n in names
        ],
        "rows": rows,
    }


def test_rows_are_read_by_their_column_headers() -> None:
    days = rows_of(_table([[3, "2025-01-02", 1500, 12], [0, "2025-01-01", 20, 0]]), "YouTube")

    assert [(d.day, d.impressions, d.clicks, d.spend, d.conversions) for d in days] == [
        (date(2025, 1, 2), 1500, 12, Decimal("0.00"), 3),
        (date(2025, 1, 1), 20, 0, Decimal("0.00"), 0),
    ]


def test_a_table_without_rows_is_no_days() -> None:
    body = _table([])
    del body["rows"]

    assert rows_of(body, "YouTube") == []


def test_a_table_tether_cannot_read_is_an_unknown_failure() -> None:
    with pytest.raises(ProviderCallError) as raised:
        rows_of(_table([[1, "yesterday", 2, 3]]), "YouTube")

    assert raised.value.reason == Reason.UNKNOWN
