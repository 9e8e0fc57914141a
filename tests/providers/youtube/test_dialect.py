"""The sandbox answering as YouTube: the Data API's channels list and YouTube Analytics'
reports, in YouTube's shapes and error bodies, over HTTP."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.providers.google_analytics.dialect import IDENTITY, YOUTUBE_SCOPES, GoogleSandbox
from tether.sandbox.metrics import day_metrics

CHANNELS = "/google/youtube/channels"
REPORTS = "/google/youtubeanalytics/v2/reports"


async def _get(
    http: httpx.AsyncClient, sandbox: GoogleSandbox, path: str, token: str, **params: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return await http.get(f"{sandbox.url}{path}", params=params, headers=headers)


def _report_params(channel: str, days: int = 7) -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {
        "ids": f"channel=={channel}",
        "startDate": (today - timedelta(days=days - 1)).isoformat(),
        "endDate": today.isoformat(),
        "metrics": "views,cardClicks,subscribersGained",
        "dimensions": "day",
        "sort": "day",
    }


async def test_channels_list_the_users_channels_in_youtubes_shape_page_by_page(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(YOUTUBE_SCOPES)
    owned = google_sandbox.state.reachable_account_ids("u_alice")
    query = {"part": "snippet", "mine": "true", "maxResults": "5"}

    first = (await _get(google_http, google_sandbox, CHANNELS, token, **query)).json()
    rest = await _get(
        google_http, google_sandbox, CHANNELS, token, **query, pageToken=first["nextPageToken"]
    )

    assert first["kind"] == "youtube#channelListResponse"
    assert first["pageInfo"] == {"totalResults": len(owned), "resultsPerPage": 5}
    channel = first["items"][0]
    assert (channel["kind"], channel["id"]) == ("youtube#channel", owned[0])
    assert channel["snippet"]["title"] == google_sandbox.state.accounts[owned[0]].name
    assert [c["id"] for c in first["items"] + rest.json()["items"]] == owned
    assert "nextPageToken" not in rest.json()


async def test_channels_without_a_filter_are_a_bad_request_in_youtubes_words(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(YOUTUBE_SCOPES)

    response = await _get(google_http, google_sandbox, CHANNELS, token, part="snippet")

    error = response.json()["error"]
    assert (response.status_code, error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["errors"][0]["reason"] == "badRequest"
    assert error["errors"][0]["message"] == error["message"]


async def test_reports_answer_a_result_table_one_row_per_day(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(YOUTUBE_SCOPES)
    account = google_sandbox.state.accounts["1000004"]

    response = await _get(google_http, google_sandbox, REPORTS, token, **_report_params("1000004"))

    body = response.json()
    assert response.status_code == 200, body
    assert body["kind"] == "youtubeAnalytics#resultTable"
    assert body["columnHeaders"][0] == {
        "name": "day",
        "columnType": "DIMENSION",
        "dataType": "STRING",
    }
    assert [h["name"] for h in body["columnHeaders"][1:]] == [
        "views",
        "cardClicks",
        "subscribersGained",
    ]
    assert len(body["rows"]) == 7
    day, views, clicks, subscribers = body["rows"][0]
    expected = day_metrics(account, datetime.fromisoformat(day).date())
    assert (views, clicks, subscribers) == (
        expected["impressions"],
        expected["clicks"],
        expected["conversions"],
    )


async def test_an_unknown_metric_is_refused_as_youtube_analytics_words_it(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(YOUTUBE_SCOPES)
    params = {**_report_params("1000004"), "metrics": "views,dislikes"}

    response = await _get(google_http, google_sandbox, REPORTS, token, **params)

    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "Unknown identifier (dislikes) given in field parameters.metrics."
    )


async def test_a_channel_the_user_no_longer_manages_is_403_forbidden(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(YOUTUBE_SCOPES)
    google_sandbox.state.remove_access("alice", "1000004")

    response = await _get(google_http, google_sandbox, REPORTS, token, **_report_params("1000004"))

    assert (response.status_code, response.json()) == (
        403,
        {
            "error": {
                "code": 403,
                "message": "Forbidden",
                "errors": [{"message": "Forbidden", "domain": "global", "reason": "forbidden"}],
                "status": "PERMISSION_DENIED",
            }
        },
    )


async def test_a_dead_token_is_401_with_youtubes_auth_error(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(YOUTUBE_SCOPES)
    google_sandbox.state.act_on_user_grants("alice", "revoke")

    response = await _get(google_http, google_sandbox, CHANNELS, token, part="id", mine="true")

    error = response.json()["error"]
    assert (response.status_code, error["status"]) == (401, "UNAUTHENTICATED")
    assert error["errors"][0]["reason"] == "authError"
    assert error["errors"][0]["location"] == "Authorization"


async def test_reports_need_the_analytics_scope(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token((*IDENTITY, YOUTUBE_SCOPES[-2]))  # youtube.readonly alone

    listing = await _get(google_http, google_sandbox, CHANNELS, token, part="id", mine="true")
    report = await _get(google_http, google_sandbox, REPORTS, token, **_report_params("1000004"))

    assert listing.status_code == 200
    assert report.status_code == 403
    assert report.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"


async def test_a_throttle_is_the_data_apis_quota_error_or_analytics_rate_limit(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(YOUTUBE_SCOPES)
    google_sandbox.state.set_faults(throttle_retry_after=45)

    listing = await _get(google_http, google_sandbox, CHANNELS, token, part="id", mine="true")
    report = await _get(google_http, google_sandbox, REPORTS, token, **_report_params("1000004"))

    assert (listing.status_code, listing.headers["retry-after"]) == (403, "45")
    assert listing.json()["error"]["errors"][0] == {
        "message": listing.json()["error"]["message"],
        "domain": "youtube.quota",
        "reason": "quotaExceeded",
    }
    assert "status" not in listing.json()["error"]
    assert (report.status_code, report.json()["error"]["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert report.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"


async def test_an_outage_is_503_backend_error(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(YOUTUBE_SCOPES)
    google_sandbox.state.set_faults(down=True)

    response = await _get(google_http, google_sandbox, CHANNELS, token, part="id", mine="true")

    error = response.json()["error"]
    assert (response.status_code, error["status"]) == (503, "UNAVAILABLE")
    assert error["errors"][0]["reason"] == "backendError"
