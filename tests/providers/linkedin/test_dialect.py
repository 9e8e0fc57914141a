"""The sandbox's LinkedIn dialect in LinkedIn's own shapes: the sign-in's redirects, the token
answers and their lifetimes, the version headers, Rest.li lists and date ranges, paging and
LinkedIn's error envelope."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine

from tether.sandbox import SandboxState

WWW = "/linkedin/www/oauth/v2"
API = "/linkedin/api"
APP = {"client_id": "tether", "client_secret": "tether-sandbox-secret"}
REDIRECT = "http://127.0.0.1:9/cb"
SCOPE = "r_ads r_ads_reporting openid profile"
VERSIONED = {"LinkedIn-Version": "202610", "X-Restli-Protocol-Version": "2.0.0"}


@pytest.fixture
def web(sandbox: SandboxState, sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_url, timeout=10, follow_redirects=False) as client:
        yield client


def sign_in(web: httpx.Client, decision: str = "allow", **extra: str) -> httpx.Response:
    query = {"response_type": "code", "client_id": "tether", "redirect_uri": REDIRECT}
    query |= {"state": "s", "scope": SCOPE, **extra}
    page = web.get(f"{WWW}/authorization", params=query)
    assert page.status_code == 200, page.text
    form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
    form |= {"username": "alice", "password": "alice-password", "decision": decision}
    return web.post(f"{WWW}/authorization", data=form)


def answer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def tokens(web: httpx.Client, **extra: str) -> dict[str, object]:
    code = answer(sign_in(web, **extra))["code"]
    form = {**APP, "grant_type": "authorization_code", "redirect_uri": REDIRECT, "code": code}
    response = web.post(f"{WWW}/accessToken", data=form)
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(token: object, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **VERSIONED, **more}


def test_the_code_answers_linkedins_token_shape_with_both_lifetimes(web: httpx.Client) -> None:
    body = tokens(web)

    assert set(body) == {
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
        "scope",
    }
    assert (body["expires_in"], body["refresh_token_expires_in"]) == (5183999, 31535999)
    assert body["scope"] == "r_ads,r_ads_reporting,openid,profile"


def test_a_refresh_hands_back_the_same_refresh_token_with_what_is_left_of_its_year(
    web: httpx.Client,
) -> None:
    first = tokens(web)
    form = {**APP, "grant_type": "refresh_token", "refresh_token": str(first["refresh_token"])}

    with time_machine.travel(datetime.now(UTC) + timedelta(days=100), tick=True):
        renewed = web.post(f"{WWW}/accessToken", data=form).json()
    with time_machine.travel(datetime.now(UTC) + timedelta(days=366), tick=True):
        ended = web.post(f"{WWW}/accessToken", data=form)

    assert renewed["refresh_token"] == first["refresh_token"]
    assert renewed["access_token"] != first["access_token"]
    assert 265 * 86400 - 10 < renewed["refresh_token_expires_in"] < 265 * 86400
    assert ended.status_code == 400
    assert ended.json() == {
        "error": "invalid_grant",
        "error_description": (
            "The provided authorization grant or refresh token is invalid, expired or revoked."
        ),
    }


def test_cancelling_the_sign_in_sends_linkedins_refusal_back(web: httpx.Client) -> None:
    refused = answer(sign_in(web, decision="deny"))

    assert refused["error"] == "user_cancelled_authorize"
    assert refused["state"] == "s"


def test_an_unknown_client_is_shown_on_the_page_not_redirected(web: httpx.Client) -> None:
    page = web.get(
        f"{WWW}/authorization",
        params={"response_type": "code", "client_id": "nobody", "redirect_uri": REDIRECT},
    )

    assert page.status_code == 400
    assert "client_id is invalid" in page.text


def test_a_code_used_twice_is_refused_in_linkedins_words(web: httpx.Client) -> None:
    code = answer(sign_in(web))["code"]
    form = {**APP, "grant_type": "authorization_code", "redirect_uri": REDIRECT, "code": code}
    web.post(f"{WWW}/accessToken", data=form)

    again = web.post(f"{WWW}/accessToken", data=form)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_request"
    assert again.json()["error_description"].startswith("Unable to retrieve access token")


def test_the_versioned_api_wants_its_version_headers(web: httpx.Client) -> None:
    token = tokens(web)["access_token"]
    path = f"{API}/rest/adAccountUsers?q=authenticatedUser"

    missing = web.get(path, headers={"Authorization": f"Bearer {token}"})
    sunset = web.get(path, headers=bearer(token, **{"LinkedIn-Version": "2022"}))
    versioned = web.get(path, headers=bearer(token))

    assert (missing.status_code, missing.json()["code"]) == (400, "VERSION_MISSING")
    assert (sunset.status_code, sunset.json()["code"]) == (426, "NONEXISTENT_VERSION")
    assert versioned.status_code == 200


def test_roles_page_by_start_and_count_and_name_accounts_by_urn(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]
    reachable = sandbox.reachable_account_ids("u_alice")

    first = web.get(
        f"{API}/rest/adAccountUsers",
        params={"q": "authenticatedUser", "start": 0, "count": 4},
        headers=bearer(token),
    ).json()
    rest = web.get(
        f"{API}/rest/adAccountUsers",
        params={"q": "authenticatedUser", "start": 4, "count": 100},
        headers=bearer(token),
    ).json()

    urns = [e["account"] for e in first["elements"] + rest["elements"]]
    assert urns == [f"urn:li:sponsoredAccount:{n}" for n in reachable]
    assert first["paging"] == {"start": 0, "count": 4, "links": []}
    assert {e["role"] for e in first["elements"]} == {"ACCOUNT_BILLING_ADMIN"}


def test_a_batch_get_answers_each_account_or_why_not(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]
    mine, theirs = (
        sandbox.reachable_account_ids("u_alice")[0],
        sandbox.reachable_account_ids("u_carol")[0],
    )

    body = web.get(f"{API}/rest/adAccounts?ids=List({mine},{theirs})", headers=bearer(token)).json()

    assert body["results"][mine]["name"] == sandbox.accounts[mine].name
    assert body["statuses"] == {mine: 200, theirs: 403}
    assert body["errors"][theirs]["serviceErrorCode"] == 100


def test_analytics_leave_out_nothing_but_read_only_the_asked_fields(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]
    number = sandbox.reachable_account_ids("u_alice")[0]
    query = (
        "q=analytics&pivot=ACCOUNT&timeGranularity=DAILY"
        "&dateRange=(start:(year:2026,month:1,day:1),end:(year:2026,month:1,day:3))"
        f"&accounts=List(urn%3Ali%3AsponsoredAccount%3A{number})&fields=dateRange,clicks"
    )

    with time_machine.travel(datetime(2026, 2, 1, 12, tzinfo=UTC), tick=True):
        body = web.get(f"{API}/rest/adAnalytics?{query}", headers=bearer(token)).json()
        unknown = web.get(
            f"{API}/rest/adAnalytics?{query.replace('clicks', 'likes')}", headers=bearer(token)
        )

    assert [set(e) for e in body["elements"]] == [{"dateRange", "clicks"}] * 3
    assert body["elements"][0]["dateRange"]["start"] == {"year": 2026, "month": 1, "day": 1}
    assert (unknown.status_code, unknown.json()["code"]) == (400, "ILLEGAL_ARGUMENT")


def test_a_token_without_the_reporting_scope_is_refused_its_reports(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web, scope="r_ads openid profile")["access_token"]
    number = sandbox.reachable_account_ids("u_alice")[0]
    query = (
        "q=analytics&pivot=ACCOUNT&timeGranularity=ALL"
        "&dateRange=(start:(year:2026,month:1,day:1))"
        f"&accounts=List(urn%3Ali%3AsponsoredAccount%3A{number})"
    )

    refused = web.get(f"{API}/rest/adAnalytics?{query}", headers=bearer(token))

    assert refused.status_code == 403
    assert refused.json()["serviceErrorCode"] == 100


def test_unknown_paths_and_a_missing_token_answer_in_linkedins_envelope(
    web: httpx.Client,
) -> None:
    unknown = web.get(f"{API}/rest/adNothing", headers=VERSIONED)
    anonymous = web.get(f"{API}/v2/userinfo")

    assert (unknown.status_code, unknown.json()["status"]) == (404, 404)
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "status": 401,
        "serviceErrorCode": 401,
        "message": "Empty oauth2_access_token",
    }
