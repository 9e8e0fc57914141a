"""The sandbox's TikTok dialect in TikTok's own shapes: the authorization page's redirects, the
token endpoints, the envelope with HTTP 200 for every answer, lists and pages, the report."""

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine

from tether.sandbox import SandboxState
from tether.sandbox.dialects.tiktok import core_user_id
from tether.sandbox.metrics import day_metrics

PORTAL = "/tiktok/business/portal"
API = "/tiktok/business/open_api/v1.3"
APP = {"app_id": "tether", "secret": "tether-sandbox-secret"}
REDIRECT = "http://127.0.0.1:9/cb"


@pytest.fixture
def web(sandbox: SandboxState, sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_url, timeout=10, follow_redirects=False) as client:
        yield client


def authorize(web: httpx.Client, decision: str = "allow", **extra: str) -> httpx.Response:
    query = {"app_id": "tether", "redirect_uri": REDIRECT, "state": "s", **extra}
    page = web.get(f"{PORTAL}/auth", params=query)
    assert page.status_code == 200, page.text
    form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
    form |= {"username": "alice", "password": "alice-password", "decision": decision}
    return web.post(f"{PORTAL}/auth", data=form)


def answer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def exchange(web: httpx.Client, auth_code: str, **app: str) -> httpx.Response:
    return web.post(f"{API}/oauth2/access_token/", json={**APP, **app, "auth_code": auth_code})


def token(web: httpx.Client) -> str:
    body = exchange(web, answer(authorize(web))["auth_code"]).json()
    return str(body["data"]["access_token"])


def envelope(response: httpx.Response) -> dict[str, Any]:
    """TikTok's answer: HTTP 200 whatever happened, and a request id."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["request_id"]
    return body


def failure(response: httpx.Response) -> tuple[int, str]:
    body = envelope(response)
    assert body["data"] == {}
    return body["code"], body["message"]


def report(web: httpx.Client, access: str, **params: str) -> httpx.Response:
    today = datetime.now(UTC).date()
    query = {
        "report_type": "BASIC",
        "data_level": "AUCTION_ADVERTISER",
        "dimensions": '["advertiser_id","stat_time_day"]',
        "metrics": '["spend","impressions","clicks","conversion","currency"]',
        "start_date": (today - timedelta(days=29)).isoformat(),
        "end_date": today.isoformat(),
        **params,
    }
    return web.get(f"{API}/report/integrated/get/", params=query, headers={"Access-Token": access})


def test_the_page_sends_the_auth_code_back_as_auth_code_and_as_code(web: httpx.Client) -> None:
    back = answer(authorize(web))

    assert set(back) == {"auth_code", "code", "state"}
    assert back["auth_code"] == back["code"]
    assert back["state"] == "s"


def test_a_cancelled_authorization_comes_back_with_no_code(web: httpx.Client) -> None:
    assert answer(authorize(web, decision="deny")) == {"state": "s"}


def test_an_unknown_app_gets_an_error_page_and_no_redirect(web: httpx.Client) -> None:
    page = web.get(f"{PORTAL}/auth", params={"app_id": "999", "redirect_uri": REDIRECT})

    assert page.status_code == 400
    assert "does not exist" in page.text
    assert "location" not in page.headers


def test_the_auth_code_gives_a_long_term_token_that_never_expires(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    body = envelope(exchange(web, answer(authorize(web))["auth_code"]))

    assert (body["code"], body["message"]) == (0, "OK")
    assert body["data"].keys() == {"access_token", "advertiser_ids", "scope"}  # no refresh
    assert body["data"]["advertiser_ids"] == sandbox.reachable_account_ids("u_alice")
    assert all(isinstance(s, int) for s in body["data"]["scope"])
    headers = {"Access-Token": body["data"]["access_token"]}
    with time_machine.travel(datetime.now(UTC) + timedelta(days=5 * 365), tick=True):
        assert envelope(web.get(f"{API}/user/info/", headers=headers))["code"] == 0


def test_a_refused_exchange_answers_http_200_with_tiktoks_code(web: httpx.Client) -> None:
    auth_code = answer(authorize(web))["auth_code"]
    exchange(web, auth_code)

    assert failure(exchange(web, auth_code))[0] == 40110
    assert failure(exchange(web, "unknown")) == (
        40110,
        "The auth_code is canceled. Please re-authorize and try again with a new auth_code.",
    )
    assert failure(exchange(web, auth_code, secret="wrong")) == (40101, "Invalid app_id or secret.")
    assert failure(exchange(web, ""))[0] == 40002


def test_calls_answer_40104_without_a_token_40105_with_a_dead_one_40102_when_expired(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    access = token(web)
    assert failure(web.get(f"{API}/user/info/")) == (
        40104,
        "Access token is null, you should set it in http header with key Access-Token.",
    )
    bearer = web.get(f"{API}/user/info/", headers={"Authorization": f"Bearer {access}"})
    assert failure(bearer)[0] == 40104  # TikTok reads its own header only
    sandbox.act_on_user_grants("alice", "expire")

    expired = web.get(f"{API}/user/info/", headers={"Access-Token": access})
    junk = web.get(f"{API}/user/info/", headers={"Access-Token": "junk"})

    assert failure(expired) == (40102, "Access token has expired.")
    assert failure(junk) == (40105, "Access token is incorrect or has been revoked.")


def test_a_changed_password_reads_as_a_revoked_token(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    access = token(web)
    sandbox.change_password("alice", "changed")

    answered = web.get(f"{API}/user/info/", headers={"Access-Token": access})

    assert failure(answered)[0] == 40105


def test_an_unknown_path_or_a_missing_trailing_slash_is_a_plain_404(web: httpx.Client) -> None:
    for path in (f"{API}/user/info", f"{API}/no/such/path/", "/tiktok/elsewhere"):
        missing = web.get(path)
        assert (missing.status_code, missing.text) == (404, "404 page not found"), path
    assert failure(web.get("/tiktok/business/open_api/v1.2/user/info/"))[0] == 40051


def test_user_info_answers_the_tiktok_for_business_user(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    data = envelope(web.get(f"{API}/user/info/", headers={"Access-Token": token(web)}))["data"]

    assert data["core_user_id"] == core_user_id(sandbox.user("alice"))
    assert data["core_user_id"].isdigit()
    assert (data["display_name"], data["email"]) == ("Alice Martin", "alice@sandbox.test")


def test_advertiser_get_needs_the_apps_own_secret_and_lists_every_advertiser(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    headers = {"Access-Token": token(web)}
    sandbox.clients["other-app"] = "other-secret"
    url = f"{API}/oauth2/advertiser/get/"

    listed = envelope(web.get(url, params=APP, headers=headers))["data"]
    wrong = web.get(url, params={**APP, "secret": "wrong"}, headers=headers)
    other = web.get(url, params={"app_id": "other-app", "secret": "other-secret"}, headers=headers)

    assert [a["advertiser_id"] for a in listed["list"]] == sandbox.reachable_account_ids("u_alice")
    assert set(listed["list"][0]) == {"advertiser_id", "advertiser_name"}
    assert "page_info" not in listed
    assert failure(wrong)[0] == 40101
    assert failure(other)[0] == 40113


def test_advertiser_info_answers_the_fields_asked_and_refuses_one_out_of_reach(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    headers = {"Access-Token": token(web)}
    mine = sandbox.reachable_account_ids("u_alice")[:2]
    theirs = sandbox.reachable_account_ids("u_carol")[0]
    url = f"{API}/advertiser/info/"

    found = web.get(
        url, headers=headers, params={"advertiser_ids": json.dumps(mine),
                                      "fields": '["advertiser_id","currency"]'},
    )  # fmt: skip
    refused = web.get(url, headers=headers, params={"advertiser_ids": json.dumps([theirs])})

    assert envelope(found)["data"]["list"] == [
        {"advertiser_id": i, "currency": sandbox.accounts[i].currency} for i in mine
    ]
    assert failure(refused) == (40001, f"No permission to operate advertiser {theirs}.")


def test_the_report_answers_a_row_per_day_with_figures_as_strings_page_by_page(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    access = token(web)
    advertiser = sandbox.reachable_account_ids("u_alice")[0]
    account = sandbox.accounts[advertiser]

    first = envelope(report(web, access, advertiser_id=advertiser))["data"]
    third = envelope(report(web, access, advertiser_id=advertiser, page="3"))["data"]

    assert first["page_info"] == {"page": 1, "page_size": 10, "total_number": 30, "total_page": 3}
    assert len(first["list"]) == len(third["list"]) == 10
    row = first["list"][0]
    day = datetime.now(UTC).date() - timedelta(days=29)
    assert row["dimensions"] == {
        "advertiser_id": advertiser,
        "stat_time_day": f"{day.isoformat()} 00:00:00",
    }
    expected = day_metrics(account, day)
    assert row["metrics"] == {
        "spend": expected["spend"],
        "impressions": str(expected["impressions"]),
        "clicks": str(expected["clicks"]),
        "conversion": str(expected["conversions"]),
        "currency": account.currency,
    }


def test_the_report_refuses_more_than_30_days_and_parameters_tiktok_refuses(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    access = token(web)
    advertiser = sandbox.reachable_account_ids("u_alice")[0]
    today = datetime.now(UTC).date()

    def code_of(**params: str) -> int:
        return failure(report(web, access, advertiser_id=advertiser, **params))[0]

    assert code_of(start_date=(today - timedelta(days=30)).isoformat()) == 40002
    assert code_of(dimensions="stat_time_day") == 40002  # lists are JSON
    assert code_of(dimensions='["stat_time_day"]') == 40002  # currency needs an ID dimension
    assert code_of(metrics='["reach"]') == 40002
    assert code_of(end_date="2026-13-01") == 40002
    assert code_of(page_size="1001") == 40002
    assert code_of(data_level="AUCTION_CAMPAIGN") == 40009  # not in the sandbox's world
    assert failure(report(web, access))[0] == 40002  # no advertiser_id


def test_an_advertiser_the_user_lost_answers_no_permission(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    access = token(web)
    advertiser = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.remove_access("alice", advertiser)

    assert failure(report(web, access, advertiser_id=advertiser)) == (
        40001,
        f"No permission to operate advertiser {advertiser}.",
    )


def test_throttled_calls_say_40100_for_the_app_and_40133_for_an_advertiser_with_no_header(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    access = token(web)
    advertiser = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.set_faults(throttle_retry_after=300)

    app_wide = web.get(f"{API}/user/info/", headers={"Access-Token": access})
    per_advertiser = report(web, access, advertiser_id=advertiser)

    assert failure(app_wide) == (40100, "Requests made too frequently.")
    code, message = failure(per_advertiser)
    assert code == 40133
    assert message.startswith(f"Advertiser ({advertiser})'s QPS")
    assert "retry-after" not in app_wide.headers
    assert "retry-after" not in per_advertiser.headers


def test_a_platform_that_is_down_says_50000_before_it_reads_the_token(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    sandbox.set_faults(down=True)

    assert failure(web.get(f"{API}/user/info/", headers={"Access-Token": "junk"})) == (
        50000,
        "System error.",
    )


def test_revoking_names_the_advertisers_given_up_and_the_token_dies(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    access = token(web)
    url = f"{API}/oauth2/revoke_token/"

    revoked = envelope(web.post(url, json={**APP, "access_token": access}))
    again = web.post(url, json={**APP, "access_token": access})

    assert revoked["data"] == {
        "app_id": "tether",
        "advertiser_ids": sandbox.reachable_account_ids("u_alice"),
    }
    assert failure(again)[0] == 40105
    assert failure(web.get(f"{API}/user/info/", headers={"Access-Token": access}))[0] == 40105
    (grant,) = sandbox.grants_for("alice")
    assert (grant.revoked_reason, grant.refresh_token) == ("token_revoked", None)
