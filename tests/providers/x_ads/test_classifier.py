"""X's errors read by its definition: the documented bodies (research notes X1-X5 and X's docs)
give the right reason and keep X's own words; a throttle waits for X's resets; the documented
shapes of the stats endpoints (a day's window, active entities, a job, a result file) read as
Tether's days."""

import gzip
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tether.config import ProviderSettings, Settings
from tether.providers.base import Consent, Credentials, ProviderCallError, Reason, TokenGrant
from tether.providers.registry import build_registry
from tether.providers.x_ads import (
    ACCESS_TOKEN_URL,
    AUTHORIZE_URL,
    BASES,
    INVALIDATE_URL,
    REQUEST_TOKEN_URL,
    RESTATE_DAYS,
    X_ADS,
    XAdsProvider,
    reset_wait,
)
from tether.providers.x_ads_stats import (
    MAX_DAYS_PER_JOB,
    daily_metrics,
    job_id,
    job_params,
    job_specs,
    job_states,
    unpacked,
    window,
)


@pytest.fixture
async def x() -> AsyncIterator[XAdsProvider]:
    async with httpx.AsyncClient() as http:
        yield XAdsProvider(X_ADS, http=http, bases=BASES)


def errors(code: int | str, message: str, **more: Any) -> dict[str, Any]:
    """X's error envelope (X2, X3): the Ads API adds the `request` it read."""
    return {"errors": [{"code": code, "message": message, **more}]}


# The lapse of invalidate_token's page (X2) and the example of X's error page (X3), verbatim.
LAPSE = {"errors": [{"code": 89, "message": "Invalid or expired token."}]}
BAD_PARAMETER = {
    "errors": [
        {
            "parameter": "start_time",
            "details": "invalid date",
            "code": "INVALID_PARAMETER",
            "value": "",
            "message": 'Expected time, got "" for start_time',
        }
    ],
    "request": {"params": {"account_id": "hkk5"}},
}
# (status, code, message, reason): X's code constants with the status its table gives them
# (X3), api.x.com's numbers (X2, X's v1.1 response codes); the messages but 89's are examples.
DOCUMENTED = [
    (401, "UNAUTHORIZED_ACCESS", "This request is not properly authenticated", Reason.TOKEN_REVOKED),  # noqa: E501
    (403, "ACCOUNT_NOT_FOUND", "Account 18ce54d4x5t was not found", Reason.ACCESS_REMOVED),
    (403, "CURRENT_USER_SUSPENDED", "The current user is suspended", Reason.ACCESS_REMOVED),
    (429, "TOO_MANY_REQUESTS", "Rate limit exceeded", Reason.RATE_LIMITED),
    (429, "TWEET_RATE_LIMIT_EXCEEDED", "Too many posts", Reason.RATE_LIMITED),
    (500, "INTERNAL_ERROR", "Internal error", Reason.PROVIDER_OUTAGE),
    (503, "SERVICE_UNAVAILABLE", "Service unavailable", Reason.PROVIDER_OUTAGE),
    (503, "OVER_CAPACITY", "Over capacity", Reason.PROVIDER_OUTAGE),
    (408, "CANCELLED_REQUEST", "The request was cancelled", Reason.PROVIDER_OUTAGE),
    (429, 88, "Rate limit exceeded", Reason.RATE_LIMITED),
    (503, 130, "Over capacity", Reason.PROVIDER_OUTAGE),
    (500, 131, "Internal error", Reason.PROVIDER_OUTAGE),
]  # fmt: skip
# The app's setup, Tether's own request, or a route: retried, never a member's lapse.
NOT_LAPSES = [
    (401, 32, "Could not authenticate you."),
    (401, 135, "Timestamp out of bounds."),
    (400, 215, "Bad Authentication data."),
    (403, "UNAUTHORIZED_CLIENT_APPLICATION", "The app has no access to the Ads API"),
    (404, "NOT_FOUND", "The resource you have specified cannot be found"),
    (404, "ROUTE_NOT_FOUND", "The requested resource could not be found"),
    (400, "MISSING_PARAMETER", '"entity" is missing'),
    (400, "INVALID_TIME_WINDOW", "The time window is not valid"),
]


def test_an_invalidated_token_reads_as_revoked_with_xs_words(x: XAdsProvider) -> None:
    error = x.error_of(401, LAPSE)

    assert (error.reason, error.message, error.status) == (
        Reason.TOKEN_REVOKED,
        "Invalid or expired token.",
        401,
    )


@pytest.mark.parametrize(("status", "code", "message", "reason"), DOCUMENTED)
def test_a_documented_x_error_reads_as_its_reason_with_xs_words(
    x: XAdsProvider, status: int, code: int | str, message: str, reason: Reason
) -> None:
    error = x.error_of(status, {**errors(code, message), "request": {"params": {}}})

    assert (error.reason, error.message) == (reason, message)


@pytest.mark.parametrize(("status", "code", "message"), NOT_LAPSES)
def test_an_error_of_the_app_or_the_request_is_no_lapse(
    x: XAdsProvider, status: int, code: int | str, message: str
) -> None:
    error = x.error_of(status, errors(code, message))

    assert (error.reason, error.message) == (Reason.UNKNOWN, message)


def test_xs_code_decides_whatever_the_status_says(x: XAdsProvider) -> None:
    assert x.error_of(404, errors("ACCOUNT_NOT_FOUND", "gone")).reason == Reason.ACCESS_REMOVED
    assert x.error_of(400, LAPSE).reason == Reason.TOKEN_REVOKED
    # The app's own signature refused with a 500 is still the operator's to fix.
    assert x.error_of(500, errors(32, "Could not authenticate you.")).reason == Reason.UNKNOWN


def test_the_documented_bad_parameter_keeps_xs_message(x: XAdsProvider) -> None:
    error = x.error_of(400, BAD_PARAMETER)

    assert (error.reason, error.message) == (Reason.UNKNOWN, 'Expected time, got "" for start_time')


def test_a_throttle_waits_for_the_later_of_xs_two_resets() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    epoch = int(now.timestamp())
    both = httpx.Headers(
        {"x-rate-limit-reset": str(epoch + 120), "x-account-rate-limit-reset": str(epoch + 600)}
    )

    assert reset_wait(both, now) == 600
    assert reset_wait(httpx.Headers({"x-rate-limit-reset": str(epoch + 90)}), now) == 90
    assert reset_wait(httpx.Headers({"x-rate-limit-reset": str(epoch - 5)}), now) is None
    assert reset_wait(httpx.Headers({}), now) is None


def test_a_throttled_answer_carries_the_wait_until_the_reset(x: XAdsProvider) -> None:
    reset = int(datetime.now(UTC).timestamp()) + 900

    error = x.error_of(
        429, errors("TOO_MANY_REQUESTS", "Rate limit exceeded"), {"X-Rate-Limit-Reset": str(reset)}
    )

    assert error.reason == Reason.RATE_LIMITED
    assert error.retry_after is not None
    assert 890 <= error.retry_after <= 900


def test_a_503_waits_as_long_as_its_retry_after(x: XAdsProvider) -> None:
    error = x.error_of(503, errors("SERVICE_UNAVAILABLE", "Try later"), {"Retry-After": "120"})

    assert (error.reason, error.retry_after) == (Reason.PROVIDER_OUTAGE, 120)


def test_secrets_stay_out_of_every_repr() -> None:
    grant = TokenGrant("token-1", token_secret="secret-1")
    credentials = Credentials(access_token="token-1", token_secret="secret-1")
    consent = Consent("https://api.x.com/oauth/authorize?oauth_token=rt", "rt-1", "rt-secret")

    for shown in (repr(grant), repr(credentials), repr(consent)):
        assert "secret-1" not in shown
        assert "rt-secret" not in shown
        assert "rt-1" not in shown


async def test_the_oauth_2_steps_are_refused_for_x(x: XAdsProvider) -> None:
    with pytest.raises(ProviderCallError):
        x.authorize_url(state="s", code_verifier="v" * 43, redirect_uri="https://t/cb")
    with pytest.raises(ProviderCallError):
        await x.exchange_code(code="c", code_verifier="v", redirect_uri="https://t/cb")
    with pytest.raises(ProviderCallError):
        await x.refresh(refresh_token="r")


async def test_with_credentials_set_x_is_reached_at_its_production_urls() -> None:
    settings = Settings(
        sandbox_stands_in_for="",
        providers={"x_ads": ProviderSettings(client_id="consumer-key", client_secret="s3cr3t")},
    )
    async with httpx.AsyncClient() as http:
        registry = build_registry(settings, http)
    x = registry.providers["x_ads"]

    assert registry.available("x_ads")
    assert x.url(REQUEST_TOKEN_URL) == "https://api.x.com/oauth/request_token"
    assert x.url(AUTHORIZE_URL) == "https://api.x.com/oauth/authorize"
    assert x.url(ACCESS_TOKEN_URL) == "https://api.x.com/oauth/access_token"
    assert x.url(INVALIDATE_URL) == "https://api.x.com/1.1/oauth/invalidate_token"
    assert x.url(X_ADS.identify.url) == "https://api.x.com/1.1/account/verify_credentials.json"
    assert X_ADS.accounts.url is not None
    assert x.url(X_ADS.accounts.url) == "https://ads-api.x.com/12/accounts"
    assert X_ADS.probe_url is not None
    assert x.url(X_ADS.probe_url) == "https://ads-api.x.com/12/accounts?count=1"
    assert x.oauth is not None
    assert x.oauth.app_credentials() == ("consumer-key", "s3cr3t")
    assert x.oauth.endpoints.scopes == ()  # an X app's permission is set on the app


async def test_without_credentials_x_waits_for_its_consumer_key_and_secret() -> None:
    async with httpx.AsyncClient() as http:
        registry = build_registry(Settings(sandbox_stands_in_for=""), http)

    why = registry.why_unavailable("x_ads")
    assert why is not None
    assert why.missing == (
        "TETHER_PROVIDERS__X_ADS__CLIENT_ID",
        "TETHER_PROVIDERS__X_ADS__CLIENT_SECRET",
    )


def test_the_report_limits_follow_xs_jobs_and_billing_window() -> None:
    reports = X_ADS.reports
    assert reports is not None

    assert reports.max_days_per_call == MAX_DAYS_PER_JOB == 30  # X's backfill windows (X5)
    assert reports.restate_days == RESTATE_DAYS == 14  # billing processed for 14 days
    assert X_ADS.lifetimes.refreshable is False
    assert X_ADS.lifetimes.access_seconds is None  # "These tokens do not expire"


def test_a_days_midnights_are_written_with_the_offset_the_zone_has_today() -> None:
    # X's own examples: Los Angeles in daylight time, and Tokyo (docs, Timezones).
    summer = datetime(2017, 5, 25, 12, 0, tzinfo=UTC)
    los_angeles = window(
        date(2017, 5, 21), date(2017, 5, 21), ZoneInfo("America/Los_Angeles"), summer
    )
    tokyo = window(date(2017, 5, 21), date(2017, 5, 22), ZoneInfo("Asia/Tokyo"), summer)
    # A January day asked in July keeps July's offset: "not the offset of the day in question".
    january = window(date(2017, 1, 10), date(2017, 1, 10), ZoneInfo("America/Los_Angeles"), summer)

    assert (los_angeles.start_time, los_angeles.end_time) == (
        "2017-05-21T00:00:00-07:00",
        "2017-05-22T00:00:00-07:00",
    )
    assert (tokyo.start_time, tokyo.end_time, tokyo.days) == (
        "2017-05-21T00:00:00+09:00",
        "2017-05-23T00:00:00+09:00",
        2,
    )
    assert january.start_time == "2017-01-10T00:00:00-07:00"


# The active entities example of X's analytics reference, verbatim.
ACTIVE = {
    "request": {"params": {"account_id": "18ce54d4x5t", "entity": "PROMOTED_TWEET"}},
    "data": [
        {"entity_id": "2mvb28", "activity_start_time": "2026-02-28T01:30:07Z",
         "activity_end_time": "2026-03-01T07:42:55Z", "placements": ["ALL_ON_TWITTER"]},
        {"entity_id": "2mvb29", "activity_start_time": "2026-02-27T11:30:07Z",
         "activity_end_time": "2026-03-01T07:42:50Z",
         "placements": ["ALL_ON_TWITTER", "PUBLISHER_NETWORK"]},
        {"entity_id": "2mvfan", "activity_start_time": "2026-02-27T09:00:05Z",
         "activity_end_time": "2026-03-01T06:06:36Z", "placements": ["PUBLISHER_NETWORK"]},
        {"entity_id": "2n17dx", "activity_start_time": "2026-02-28T02:02:26Z",
         "activity_end_time": "2026-03-01T07:52:44Z",
         "placements": ["ALL_ON_TWITTER", "PUBLISHER_NETWORK"]},
    ],
}  # fmt: skip


def test_active_entities_become_one_job_per_placement_and_twenty_campaigns() -> None:
    many = {"data": [{"entity_id": f"c{n:02d}", "placements": None} for n in range(45)]}

    assert job_specs(ACTIVE) == [
        ("ALL_ON_TWITTER", ["2mvb28", "2mvb29", "2n17dx"]),
        ("PUBLISHER_NETWORK", ["2mvb29", "2mvfan", "2n17dx"]),
    ]
    assert [(p, len(ids)) for p, ids in job_specs(many)] == [
        ("ALL_ON_TWITTER", 20),
        ("ALL_ON_TWITTER", 20),
        ("ALL_ON_TWITTER", 5),
    ]
    assert job_specs({"data": []}) == []


def test_a_job_spans_at_most_30_days() -> None:
    assert X_ADS.reports is not None
    assert X_ADS.reports.max_days_per_call == 30


def test_a_job_asks_for_the_campaigns_figures_per_day() -> None:
    days = window(
        date(2026, 3, 1), date(2026, 3, 30), ZoneInfo("UTC"), datetime(2026, 4, 1, tzinfo=UTC)
    )

    assert job_params("ALL_ON_TWITTER", ["a1", "b2"], days) == {
        "entity": "CAMPAIGN",
        "entity_ids": "a1,b2",
        "start_time": "2026-03-01T00:00:00+00:00",
        "end_time": "2026-03-31T00:00:00+00:00",
        "granularity": "DAY",
        "placement": "ALL_ON_TWITTER",
        "metric_groups": "ENGAGEMENT,BILLING,WEB_CONVERSION",
    }


def test_a_job_is_known_by_its_id_str_and_followed_to_its_files_url() -> None:
    # The POST and GET examples of X's asynchronous analytics, cut to what is read.
    created = {"data": {"id_str": "1120829647711653888", "id": 1120829647711653888, "url": None,
                        "status": "PROCESSING"}}  # fmt: skip
    url = (
        "https://ton.twimg.com/advertiser-api-async-analytics/stats_job_1120829647711653888.json.gz"
    )
    looked = {
        "data": [
            {"id_str": "1120829647711653888", "status": "SUCCESS", "url": url},
            {"id_str": "1120829647711653889", "status": "PROCESSING", "url": None},
        ]
    }

    assert job_id(created) == "1120829647711653888"
    assert list(job_states(looked)) == [
        ("1120829647711653888", "SUCCESS", url),
        ("1120829647711653889", "PROCESSING", None),
    ]


# The result file of X's asynchronous example (a TOTAL of one line item), verbatim.
EXAMPLE_FILE = {
    "data_type": "stats",
    "time_series_length": 1,
    "data": [{"id": "el32n", "id_data": [{"segment": None, "metrics": {
        "impressions": [3482], "tweets_send": None, "qualified_impressions": None,
        "follows": None, "app_clicks": None, "retweets": [102], "unfollows": None,
        "likes": [15], "engagements": [171], "clicks": [30], "card_engagements": None,
        "poll_card_vote": None, "replies": None, "carousel_swipes": None}}]}],
    "request": {"params": {"start_time": "2026-03-12T00:00:00Z", "granularity": "TOTAL"}},
}  # fmt: skip


def test_the_documented_result_file_reads_as_its_figures() -> None:
    today = datetime.now(UTC).date()
    one_day = window(today, today, ZoneInfo("UTC"), datetime.now(UTC))

    (day,) = daily_metrics([EXAMPLE_FILE], one_day, "USD")

    assert (day.day, day.impressions, day.clicks, day.spend, day.conversions, day.currency) == (
        today,
        3482,
        30,
        Decimal(0),
        0,
        "USD",
    )


def _campaign(impressions: list[int | None], micros: list[int] | None, bought: list[int]) -> Any:
    return {"id": "c1", "id_data": [{"segment": None, "metrics": {
        "impressions": impressions, "clicks": [3, 4, None],
        "billed_charge_local_micro": micros,
        "conversion_purchases": {"metric": bought, "order_quantity": bought, "sale_amount": None},
        "conversion_sign_ups": {"metric": [1, 0, 0]}, "conversion_site_visits": None,
        "conversion_custom": {"metric": [None, 2, None]}}}]}  # fmt: skip


def test_campaigns_and_placements_add_up_per_day_with_spend_in_micros() -> None:
    first = datetime.now(UTC).date() - timedelta(days=2)
    days = window(first, first + timedelta(days=2), ZoneInfo("UTC"), datetime.now(UTC))
    timeline = {"data": [_campaign([100, 200, None], [1_500_000, 0, 0], [2, 0, 1])]}
    network = {"data": [_campaign([10, None, 5], None, [0, 1, 0])]}

    loaded = daily_metrics([timeline, network], days, "EUR")

    assert [(d.impressions, d.clicks, d.spend, d.conversions) for d in loaded] == [
        (110, 6, Decimal("1.5"), 2 + 1 + 0 + 1 + 0),
        (200, 8, Decimal(0), 0 + 0 + 2 + 1 + 2),
        (5, 0, Decimal(0), 1 + 0 + 0 + 0 + 0),
    ]
    assert {d.currency for d in loaded} == {"EUR"}


def test_a_file_of_the_wrong_shape_is_retried_never_a_lapse() -> None:
    today = datetime.now(UTC).date()
    days = window(today, today, ZoneInfo("UTC"), datetime.now(UTC))
    too_long = {"data": [{"id": "c1", "id_data": [{"metrics": {"impressions": [1, 2]}}]}]}
    not_a_number = {"data": [{"id": "c1", "id_data": [{"metrics": {"clicks": ["many"]}}]}]}

    for body in (too_long, not_a_number):
        with pytest.raises(ProviderCallError) as refused:
            daily_metrics([body], days, None)
        assert refused.value.reason == Reason.UNKNOWN


def test_a_result_file_is_read_zipped_or_not() -> None:
    body = {"data_type": "stats", "data": []}
    raw = json.dumps(body).encode()

    assert unpacked(gzip.compress(raw)) == body
    assert unpacked(raw) == body
    with pytest.raises(ProviderCallError):
        unpacked(b"\x1f\x8b not really gzip")
