"""The sandbox answering as GA4: Google's paths, shapes and error bodies, over HTTP."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from tests.providers.google_analytics.dialect import GA_SCOPES, IDENTITY, GoogleSandbox
from tether.sandbox.metrics import day_metrics

SUMMARIES = "/google/analyticsadmin/v1beta/accountSummaries"
METRICS = ["advertiserAdImpressions", "advertiserAdClicks", "advertiserAdCost", "keyEvents"]


def _report_body(start: date, end: date, metrics: list[str] | None = None) -> dict[str, Any]:
    return {
        "dateRanges": [{"startDate": start.isoformat(), "endDate": end.isoformat()}],
        "dimensions": [{"name": "date"}],
        "metrics": [{"name": m} for m in metrics or METRICS],
    }


async def _get(
    http: httpx.AsyncClient, sandbox: GoogleSandbox, path: str, token: str, **params: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return await http.get(f"{sandbox.url}{path}", params=params, headers=headers)


async def _report(
    http: httpx.AsyncClient, sandbox: GoogleSandbox, property_id: str, token: str, body: Any
) -> httpx.Response:
    url = f"{sandbox.url}/google/analyticsdata/v1beta/properties/{property_id}:runReport"
    return await http.post(url, json=body, headers={"Authorization": f"Bearer {token}"})


async def test_account_summaries_list_each_property_in_googles_shape_page_by_page(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(GA_SCOPES)
    reachable = google_sandbox.state.reachable_account_ids("u_alice")

    first = (await _get(google_http, google_sandbox, SUMMARIES, token, pageSize=5)).json()
    rest = await _get(
        google_http, google_sandbox, SUMMARIES, token, pageSize=5, pageToken=first["nextPageToken"]
    )

    summary = first["accountSummaries"][0]
    assert summary["name"] == f"accountSummaries/{reachable[0]}"
    assert summary["account"] == f"accounts/{reachable[0]}"
    (prop,) = summary["propertySummaries"]
    assert prop["property"] == f"properties/{reachable[0]}"
    assert prop["displayName"] == google_sandbox.state.accounts[reachable[0]].name
    assert prop["propertyType"] == "PROPERTY_TYPE_ORDINARY"
    listed = first["accountSummaries"] + rest.json()["accountSummaries"]
    assert [s["propertySummaries"][0]["property"] for s in listed] == [
        f"properties/{i}" for i in reachable
    ]
    assert "nextPageToken" not in rest.json()


async def test_a_page_holds_50_summaries_by_default_and_200_at_most(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    google_sandbox.state.create_accounts(250, users=["alice"])
    token = google_sandbox.token(GA_SCOPES)

    default = (await _get(google_http, google_sandbox, SUMMARIES, token)).json()
    widest = (await _get(google_http, google_sandbox, SUMMARIES, token, pageSize=1000)).json()

    assert len(default["accountSummaries"]) == 50
    assert len(widest["accountSummaries"]) == 200


async def test_run_report_answers_one_row_per_day_with_values_as_strings(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(GA_SCOPES)
    account = google_sandbox.state.accounts["1000001"]
    start = datetime.now(UTC).date() - timedelta(days=6)

    response = await _report(
        google_http, google_sandbox, "1000001", token, _report_body(start, start + timedelta(6))
    )

    body = response.json()
    assert response.status_code == 200, body
    assert body["kind"] == "analyticsData#runReport"
    assert body["dimensionHeaders"] == [{"name": "date"}]
    assert [h["name"] for h in body["metricHeaders"]] == METRICS
    assert body["rowCount"] == 7
    assert body["metadata"]["currencyCode"] == account.currency
    first = body["rows"][0]
    expected = day_metrics(account, start)
    assert first["dimensionValues"] == [{"value": start.strftime("%Y%m%d")}]
    assert first["metricValues"] == [
        {"value": str(expected[k])} for k in ("impressions", "clicks", "spend", "conversions")
    ]


async def test_a_report_reaching_past_today_stops_at_today(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(GA_SCOPES)
    today = datetime.now(UTC).date()
    body = _report_body(today, today)
    body["dateRanges"] = [{"startDate": "2daysAgo", "endDate": "2030-12-31"}]

    answered = (await _report(google_http, google_sandbox, "1000001", token, body)).json()

    assert answered["rowCount"] == 3


async def test_an_unknown_metric_is_invalid_argument_in_googles_words(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(GA_SCOPES)
    today = datetime.now(UTC).date()

    response = await _report(
        google_http, google_sandbox, "1000001", token, _report_body(today, today, ["costs"])
    )

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert response.json()["error"]["message"].startswith("Field costs is not a valid metric.")


async def test_a_property_the_user_lost_is_403_permission_denied_like_one_never_seen(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(GA_SCOPES)
    google_sandbox.state.remove_access("alice", "1000001")
    today = datetime.now(UTC).date()

    lost = await _report(google_http, google_sandbox, "1000001", token, _report_body(today, today))
    never = await _report(google_http, google_sandbox, "999", token, _report_body(today, today))

    expected = {
        "error": {
            "code": 403,
            "message": "User does not have sufficient permissions for this property.",
            "status": "PERMISSION_DENIED",
        }
    }
    assert (lost.status_code, lost.json()) == (403, expected)
    assert (never.status_code, never.json()) == (403, expected)


async def test_every_dead_token_is_401_unauthenticated_as_google_says_nothing_more(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    expired, revoked, changed = (google_sandbox.token(GA_SCOPES) for _ in range(3))
    expired_grant, revoked_grant, _ = google_sandbox.grant_ids()
    google_sandbox.state.expire_access(expired_grant)
    google_sandbox.state.revoke_grant(revoked_grant)
    google_sandbox.state.change_password("alice", "new-password")

    answers = [
        await _get(google_http, google_sandbox, SUMMARIES, token)
        for token in (expired, revoked, changed, "not-a-token")
    ]

    assert {a.status_code for a in answers} == {401}
    assert {a.json()["error"]["status"] for a in answers} == {"UNAUTHENTICATED"}
    assert (
        answers[0]
        .json()["error"]["message"]
        .startswith("Request had invalid authentication credentials.")
    )


async def test_a_grant_without_the_analytics_scope_is_refused_with_scope_insufficient(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(IDENTITY)

    response = await _get(google_http, google_sandbox, SUMMARIES, token)

    error = response.json()["error"]
    assert (response.status_code, error["status"]) == (403, "PERMISSION_DENIED")
    assert error["message"] == "Request had insufficient authentication scopes."
    assert error["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"


async def test_faults_answer_as_google_with_the_throttles_retry_after(
    google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient
) -> None:
    token = google_sandbox.token(GA_SCOPES)
    today = datetime.now(UTC).date()

    google_sandbox.state.set_faults(throttle_retry_after=90)
    listing = await _get(google_http, google_sandbox, SUMMARIES, token)
    report = await _report(
        google_http, google_sandbox, "1000001", token, _report_body(today, today)
    )
    google_sandbox.state.set_faults(throttle_retry_after=None, down=True)
    down = await _get(google_http, google_sandbox, SUMMARIES, "not-a-token")

    assert (listing.status_code, listing.headers["retry-after"]) == (429, "90")
    assert listing.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert "analyticsadmin.googleapis.com" in listing.json()["error"]["message"]
    assert report.status_code == 429
    assert report.json()["error"]["message"].startswith("Exhausted property tokens")
    assert down.status_code == 503
    assert down.json() == {
        "error": {
            "code": 503,
            "message": "The service is currently unavailable.",
            "status": "UNAVAILABLE",
        }
    }
    assert google_sandbox.calls("accounts") == {"ok": 0, "failed": 1}
