"""The Sandbox Ads data API: authentication, accounts, metrics, and mounting under a prefix."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import time_machine
from fastapi import FastAPI

from tests.fixtures.server import serve
from tests.sandbox.conftest import OAuthDriver, error_code, location_params, new_pkce
from tether.sandbox import SandboxState, create_app


def _days_ago(days: int) -> date:
    return datetime.now(UTC).date() - timedelta(days=days)


def _metrics(http: httpx.Client, api_key: str, account_id: str, start: date, end: date) -> Any:
    response = http.get(
        f"/api/v1/accounts/{account_id}/metrics",
        params={"start": start.isoformat(), "end": end.isoformat()},
        headers={"X-Api-Key": api_key},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_me_answers_for_a_valid_api_key(http: httpx.Client, sandbox: SandboxState) -> None:
    response = http.get("/api/v1/me", headers={"X-Api-Key": sandbox.user("bob").api_key})
    assert response.json()["username"] == "bob"


def test_api_keys_are_deterministic_per_seed_and_username() -> None:
    first, second = SandboxState.seeded(7), SandboxState.seeded(7)
    assert first.user("alice").api_key == second.user("alice").api_key
    assert first.user("alice").api_key != SandboxState.seeded(8).user("alice").api_key
    assert first.user("alice").api_key.startswith("sbx_")


def test_unknown_api_key_is_401_invalid_api_key(http: httpx.Client) -> None:
    response = http.get("/api/v1/me", headers={"X-Api-Key": "sbx_nope"})
    assert (response.status_code, error_code(response)) == (401, "invalid_api_key")
    assert response.json()["error"]["message"]


def test_missing_credentials_are_401_invalid_token(http: httpx.Client) -> None:
    response = http.get("/api/v1/me")
    assert (response.status_code, error_code(response)) == (401, "invalid_token")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_unknown_bearer_token_is_401_invalid_token(oauth: OAuthDriver) -> None:
    response = oauth.get("/api/v1/me", "sbx_at_forged")
    assert (response.status_code, error_code(response)) == (401, "invalid_token")


def test_access_token_expires_after_its_lifetime(oauth: OAuthDriver) -> None:
    tokens = oauth.tokens()
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=3601), tick=True):
        response = oauth.get("/api/v1/me", tokens["access_token"])
        assert (response.status_code, error_code(response)) == (401, "token_expired")
        renewed = oauth.refresh(tokens["refresh_token"]).json()
        assert oauth.get("/api/v1/me", renewed["access_token"]).status_code == 200


def test_access_token_lifetime_follows_the_setting(
    oauth: OAuthDriver, sandbox: SandboxState
) -> None:
    sandbox.update_settings(access_token_lifetime=120)
    assert oauth.tokens()["expires_in"] == 120


def test_accounts_paginate_in_stable_order_without_gaps(
    http: httpx.Client, sandbox: SandboxState
) -> None:
    user = sandbox.add_user("dana", "pw")
    created = sandbox.create_accounts(250, users=["dana"])
    seen: list[str] = []
    token: str | None = ""
    while token is not None:
        response = http.get(
            "/api/v1/accounts",
            params={"page_size": 100, "page_token": token},
            headers={"X-Api-Key": user.api_key},
        )
        body = response.json()
        assert len(body["accounts"]) <= 100
        seen += [account["id"] for account in body["accounts"]]
        token = body["next_page_token"]
    assert seen == [account.id for account in created]


def test_accounts_page_size_above_1000_is_400(http: httpx.Client, sandbox: SandboxState) -> None:
    headers = {"X-Api-Key": sandbox.user("alice").api_key}
    response = http.get("/api/v1/accounts", params={"page_size": 1001}, headers=headers)
    assert (response.status_code, error_code(response)) == (400, "invalid_request")
    garbled = http.get("/api/v1/accounts", params={"page_size": "many"}, headers=headers)
    assert (garbled.status_code, error_code(garbled)) == (400, "invalid_request")


def test_accounts_are_shared_between_users(http: httpx.Client, sandbox: SandboxState) -> None:
    def ids(username: str) -> set[str]:
        headers = {"X-Api-Key": sandbox.user(username).api_key}
        return {a["id"] for a in http.get("/api/v1/accounts", headers=headers).json()["accounts"]}

    alice, bob, carol = ids("alice"), ids("bob"), ids("carol")
    assert alice & bob
    assert bob - alice
    assert carol
    assert not carol & (alice | bob)


def test_metrics_are_deterministic_and_differ_between_accounts(
    http: httpx.Client, sandbox: SandboxState
) -> None:
    key = sandbox.user("alice").api_key
    start, end = _days_ago(30), _days_ago(1)
    first = _metrics(http, key, "1000001", start, end)
    assert first == _metrics(http, key, "1000001", start, end)
    other = _metrics(http, key, "1000002", start, end)
    assert first["days"] != other["days"]
    assert first["account_id"] == "1000001"
    assert first["currency"] == sandbox.accounts["1000001"].currency


def test_metrics_values_are_plausible(http: httpx.Client, sandbox: SandboxState) -> None:
    body = _metrics(http, sandbox.user("alice").api_key, "1000003", _days_ago(90), _days_ago(0))
    assert len(body["days"]) == 91
    for day in body["days"]:
        assert 0 <= day["conversions"] <= day["clicks"] <= day["impressions"]
        spend = Decimal(day["spend"])
        assert spend >= 0
        assert day["spend"] == f"{spend:.2f}"


def test_metrics_leave_out_days_after_today(http: httpx.Client, sandbox: SandboxState) -> None:
    body = _metrics(http, sandbox.user("alice").api_key, "1000001", _days_ago(2), _days_ago(-5))
    assert [d["date"] for d in body["days"]] == [_days_ago(n).isoformat() for n in (2, 1, 0)]


def test_metrics_leave_out_days_older_than_the_history_limit(
    http: httpx.Client, sandbox: SandboxState
) -> None:
    http.put("/control/settings", json={"history_days": 10})
    body = _metrics(http, sandbox.user("alice").api_key, "1000001", _days_ago(30), _days_ago(0))
    assert body["days"][0]["date"] == _days_ago(10).isoformat()
    assert len(body["days"]) == 11


def test_metrics_refuse_reversed_too_long_or_malformed_ranges(
    http: httpx.Client, sandbox: SandboxState
) -> None:
    headers = {"X-Api-Key": sandbox.user("alice").api_key}
    url = "/api/v1/accounts/1000001/metrics"
    bad = [
        {"start": _days_ago(1).isoformat(), "end": _days_ago(5).isoformat()},
        {"start": _days_ago(400).isoformat(), "end": _days_ago(0).isoformat()},
        {"start": "yesterday", "end": _days_ago(0).isoformat()},
        {"start": _days_ago(1).isoformat()},
    ]
    for params in bad:
        response = http.get(url, params=params, headers=headers)
        assert (response.status_code, error_code(response)) == (400, "invalid_request"), params


def test_metrics_accept_a_range_of_exactly_366_days(
    http: httpx.Client, sandbox: SandboxState
) -> None:
    body = _metrics(http, sandbox.user("alice").api_key, "1000001", _days_ago(365), _days_ago(0))
    assert len(body["days"]) == 366


def test_metrics_of_an_unknown_account_are_404(http: httpx.Client, sandbox: SandboxState) -> None:
    headers = {"X-Api-Key": sandbox.user("alice").api_key}
    response = http.get("/api/v1/accounts/9999999/metrics", headers=headers)
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_metrics_of_an_account_never_shared_with_the_user_are_404(
    http: httpx.Client, sandbox: SandboxState
) -> None:
    carol_account = sandbox.reachable_account_ids("u_carol")[0]
    headers = {"X-Api-Key": sandbox.user("alice").api_key}
    response = http.get(f"/api/v1/accounts/{carol_account}/metrics", headers=headers)
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_unknown_path_answers_in_the_error_shape(http: httpx.Client) -> None:
    response = http.get("/api/v1/nothing-here")
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_home_page_says_what_the_sandbox_is(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.status_code == 200
    assert "Sandbox Ads" in response.text


def test_sandbox_works_mounted_under_a_prefix() -> None:
    parent = FastAPI()
    parent.mount("/sandbox", create_app(SandboxState.seeded()))
    with serve(parent) as base, httpx.Client(base_url=f"{base}/sandbox") as http:
        oauth = OAuthDriver(http)
        verifier, challenge = new_pkce()
        page = http.get("/oauth/authorize", params=oauth.authorize_params(challenge))
        # The form posts relative to the page, so it lands on /sandbox/oauth/authorize.
        assert 'action="authorize"' in page.text
        assert page.url.path == "/sandbox/oauth/authorize"
        code = location_params(oauth.consent(challenge))["code"]
        tokens = oauth.exchange(code, verifier).json()
        assert oauth.get("/api/v1/me", tokens["access_token"]).json()["username"] == "alice"
        assert f"{base}/sandbox/control/state" in http.get("/").text
        assert http.get("/control/state").json()["users"] == 3
