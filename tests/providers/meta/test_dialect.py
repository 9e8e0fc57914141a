"""The sandbox's Meta dialect in Meta's own shapes: the dialog's redirects, the token endpoint,
Graph's error envelope and headers, paging and Insights' defaults."""

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine

from tests.fixtures.builders import pkce_pair
from tether.sandbox import SandboxState
from tether.sandbox.dialects.meta import graph_id

WWW = "/meta/www/v26.0"
GRAPH = "/meta/graph/v26.0"
APP = {"client_id": "tether", "client_secret": "tether-sandbox-secret"}
REDIRECT = "http://127.0.0.1:9/cb"


@pytest.fixture
def web(sandbox: SandboxState, sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_url, timeout=10, follow_redirects=False) as client:
        yield client


def dialog(web: httpx.Client, decision: str = "allow", **extra: str) -> httpx.Response:
    query = {"client_id": "tether", "redirect_uri": REDIRECT, "state": "s", **extra}
    page = web.get(f"{WWW}/dialog/oauth", params=query)
    assert page.status_code == 200, page.text
    form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
    form |= {"username": "alice", "password": "alice-password", "decision": decision}
    return web.post(f"{WWW}/dialog/oauth", data=form)


def answer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def token(web: httpx.Client, **extra: str) -> httpx.Response:
    code = answer(dialog(web, **extra))["code"]
    return web.post(
        f"{GRAPH}/oauth/access_token", data={**APP, "redirect_uri": REDIRECT, "code": code}
    )


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert error["fbtrace_id"]
    return error


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def test_the_dialog_sends_the_code_back_with_metas_fragment(web: httpx.Client) -> None:
    response = dialog(web)

    assert response.headers["location"].endswith("#_=_")
    assert set(answer(response)) == {"code", "state"}


def test_a_person_who_cancels_is_sent_back_with_metas_denial(web: httpx.Client) -> None:
    assert answer(dialog(web, decision="deny")) == {
        "error": "access_denied",
        "error_code": "200",
        "error_description": "Permissions error",
        "error_reason": "user_denied",
        "state": "s",
    }


def test_an_unknown_app_gets_an_error_page_and_no_redirect(web: httpx.Client) -> None:
    page = web.get(f"{WWW}/dialog/oauth", params={"client_id": "999", "redirect_uri": REDIRECT})

    assert page.status_code == 400
    assert "Invalid App ID" in page.text
    assert "location" not in page.headers


def test_the_code_gives_a_short_lived_token_without_refresh(web: httpx.Client) -> None:
    body = token(web).json()

    assert body.keys() == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", 5400)
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=2), tick=True):
        expired = web.get(f"{GRAPH}/me", headers=bearer(body["access_token"]))
    assert (error_of(expired)["code"], error_of(expired)["error_subcode"]) == (190, 463)


def test_pkce_is_checked_when_the_app_sends_a_challenge(web: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    sent = {**APP, "redirect_uri": REDIRECT}

    refused = web.post(
        f"{GRAPH}/oauth/access_token", data={**sent, "code": answer(dialog(web, **pkce))["code"]}
    )
    code = answer(dialog(web, **pkce))["code"]
    accepted = web.post(
        f"{GRAPH}/oauth/access_token", data={**sent, "code": code, "code_verifier": verifier}
    )

    assert error_of(refused)["code"] == 100
    assert "code_verifier" in error_of(refused)["message"]
    assert accepted.status_code == 200


def test_the_long_lived_exchange_answers_metas_60_days(web: httpx.Client) -> None:
    short = token(web).json()["access_token"]
    query = {**APP, "grant_type": "fb_exchange_token", "fb_exchange_token": short}

    long = web.get(f"{GRAPH}/oauth/access_token", params=query).json()
    refused = web.get(f"{GRAPH}/oauth/access_token", params={**query, "client_secret": "no"})

    assert long["expires_in"] == 5183944
    assert long["access_token"] != short
    assert error_of(refused) | {"fbtrace_id": ""} == {
        "message": "Error validating client secret.",
        "type": "OAuthException",
        "code": 1,
        "fbtrace_id": "",
    }


def test_a_dead_token_answers_190_with_metas_challenge_header(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    access = token(web).json()["access_token"]
    sandbox.change_password("alice", "changed")

    response = web.get(f"{GRAPH}/me", headers=bearer(access))

    assert response.status_code == 400
    error = error_of(response)
    assert (error["type"], error["code"], error["error_subcode"]) == ("OAuthException", 190, 460)
    assert error["error_user_msg"]
    assert response.headers["www-authenticate"].startswith('OAuth "Facebook Platform"')


def test_removing_the_app_answers_success_and_the_token_dies(web: httpx.Client) -> None:
    access = token(web).json()["access_token"]

    removed = web.delete(f"{GRAPH}/me/permissions", headers=bearer(access))
    after = web.get(f"{GRAPH}/me", headers=bearer(access))

    assert removed.json() == {"success": True}
    assert (error_of(after)["code"], error_of(after)["error_subcode"]) == (190, 458)


def test_calls_without_a_token_or_at_unknown_paths_answer_in_graphs_envelope(
    web: httpx.Client,
) -> None:
    assert error_of(web.get(f"{GRAPH}/me"))["code"] == 104
    assert error_of(web.get(f"{GRAPH}/me", params={"access_token": "junk"}))["code"] == 190
    assert error_of(web.get(f"{GRAPH}/no/such/path"))["code"] == 2500


def test_the_me_node_answers_the_fields_asked_and_no_others(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    headers = bearer(token(web).json()["access_token"])

    assert web.get(f"{GRAPH}/me", headers=headers).json() == {
        "id": graph_id(sandbox.user("alice")),
        "name": "Alice Martin",
    }
    unknown = web.get(f"{GRAPH}/me", headers=headers, params={"fields": "id,birthday"})
    assert "nonexisting field (birthday)" in error_of(unknown)["message"]


def test_ad_accounts_page_with_cursors_and_a_next_url(web: httpx.Client) -> None:
    headers = bearer(token(web).json()["access_token"])

    first = web.get(f"{GRAPH}/me/adaccounts", headers=headers, params={"limit": 5}).json()
    second = web.get(first["paging"]["next"], headers=headers).json()

    assert [set(a) for a in first["data"]] == [{"id"}] * 5  # Graph's default fields
    assert set(first["paging"]["cursors"]) == {"before", "after"}
    assert len(second["data"]) == 4
    assert "next" not in second["paging"]


def test_insights_default_to_the_last_30_days_in_one_row(web: httpx.Client) -> None:
    headers = bearer(token(web).json()["access_token"])
    accounts = web.get(f"{GRAPH}/me/adaccounts", headers=headers).json()["data"]
    today = datetime.now(UTC).date()

    (row,) = web.get(f"{GRAPH}/{accounts[0]['id']}/insights", headers=headers).json()["data"]
    bad = web.get(
        f"{GRAPH}/{accounts[0]['id']}/insights",
        headers=headers,
        params={"time_range": json.dumps({"since": "2026-13-01"})},
    )

    assert set(row) == {"impressions", "spend", "date_start", "date_stop"}
    assert row["date_start"] == (today - timedelta(days=30)).isoformat()
    assert row["date_stop"] == (today - timedelta(days=1)).isoformat()
    assert isinstance(row["impressions"], str)
    assert error_of(bad)["code"] == 100


def test_a_throttled_user_call_says_17_with_the_business_use_case_usage(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    headers = bearer(token(web).json()["access_token"])
    sandbox.set_user_faults(["alice"], throttle_retry_after=300)

    response = web.get(f"{GRAPH}/me", headers=headers)

    assert (error_of(response)["code"], error_of(response)["error_subcode"]) == (17, 2446079)
    assert "retry-after" not in response.headers
    usage = json.loads(response.headers["x-business-use-case-usage"])
    ((key, (use_case,)),) = usage.items()
    assert key == graph_id(sandbox.user("alice"))
    assert use_case["estimated_time_to_regain_access"] == 5
