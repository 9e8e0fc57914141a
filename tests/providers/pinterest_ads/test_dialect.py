"""The sandbox's Pinterest dialect in Pinterest's own shapes: the consent page's redirects, the
token endpoint's continuous refresh, `{"code", "message"}` refusals, bookmark paging and the
analytics endpoint's rows and limits."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine

from tether.sandbox import SandboxState
from tether.sandbox.dialects.pinterest import pinterest_id
from tether.sandbox.metrics import day_metrics

WWW = "/pinterest/www"
API = "/pinterest/api/v5"
APP = ("tether", "tether-sandbox-secret")
REDIRECT = "http://127.0.0.1:9/cb"
SCOPE = "ads:read,user_accounts:read"
COLUMNS = "IMPRESSION_1,CLICKTHROUGH_1,SPEND_IN_MICRO_DOLLAR,TOTAL_CONVERSIONS"


@pytest.fixture
def web(sandbox: SandboxState, sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_url, timeout=10, follow_redirects=False) as client:
        yield client


def consent(web: httpx.Client, decision: str = "allow", **extra: str) -> httpx.Response:
    query = {
        "client_id": "tether",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": SCOPE,
        "state": "s",
        **extra,
    }
    page = web.get(f"{WWW}/oauth/", params=query)
    assert page.status_code == 200, page.text
    form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
    form |= {"username": "alice", "password": "alice-password", "decision": decision}
    return web.post(f"{WWW}/oauth/", data=form)


def answer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def token(web: httpx.Client, **extra: str) -> httpx.Response:
    code = answer(consent(web, **extra))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    return web.post(f"{API}/oauth/token", data=form | {"continuous_refresh": "true"}, auth=APP)


def refresh(web: httpx.Client, refresh_token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return web.post(f"{API}/oauth/token", data=form, auth=APP)


def refusal(response: httpx.Response) -> tuple[int, int, str]:
    found: dict[str, Any] = response.json()
    assert set(found) == {"code", "message"}
    assert response.headers["x-pinterest-rid"].isdigit()
    return response.status_code, found["code"], found["message"]


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def signed_in(web: httpx.Client, **extra: str) -> dict[str, str]:
    return bearer(token(web, **extra).json()["access_token"])


def test_the_consent_page_sends_the_code_back_with_the_state(web: httpx.Client) -> None:
    page = web.get(
        f"{WWW}/oauth/",
        params={"client_id": "tether", "redirect_uri": REDIRECT, "response_type": "code",
                "scope": SCOPE},
    )  # fmt: skip

    assert "See all of your advertising data" in page.text
    assert set(answer(consent(web))) == {"code", "state"}


def test_a_person_who_declines_is_sent_back_with_access_denied(web: httpx.Client) -> None:
    declined = answer(consent(web, decision="deny"))

    assert (declined["error"], declined["state"]) == ("access_denied", "s")
    assert "code" not in declined


def test_an_unknown_app_gets_an_error_page_and_no_redirect(web: httpx.Client) -> None:
    page = web.get(f"{WWW}/oauth/", params={"client_id": "999", "redirect_uri": REDIRECT})

    assert page.status_code == 400
    assert "This app is not available" in page.text
    assert "location" not in page.headers


def test_an_unknown_scope_is_sent_back_as_an_invalid_request(web: httpx.Client) -> None:
    query = {"client_id": "tether", "redirect_uri": REDIRECT, "response_type": "code"}

    sent_back = answer(web.get(f"{WWW}/oauth/", params=query | {"scope": "ads:read,ads:fly"}))

    assert sent_back["error"] == "invalid_request"
    assert "ads:fly" in sent_back["error_description"]


def test_the_code_gives_a_30_day_token_and_a_continuous_60_day_refresh_token(
    web: httpx.Client,
) -> None:
    body = token(web).json()

    assert body.keys() == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "response_type",
        "refresh_token",
        "refresh_token_expires_in",
        "refresh_token_expires_at",
    }
    assert (body["token_type"], body["response_type"], body["scope"]) == (
        "bearer",
        "authorization_code",
        SCOPE,
    )
    assert (body["expires_in"], body["refresh_token_expires_in"]) == (30 * 86400, 60 * 86400)
    ends = datetime.fromtimestamp(body["refresh_token_expires_at"], UTC)
    assert abs(ends - (datetime.now(UTC) + timedelta(days=60))) < timedelta(minutes=1)


def test_a_refresh_hands_out_a_new_refresh_token_and_the_old_one_dies_once_it_is_used(
    web: httpx.Client,
) -> None:
    first = token(web).json()

    with time_machine.travel(datetime.now(UTC) + timedelta(days=50), tick=True):
        renewed = refresh(web, first["refresh_token"]).json()
        web.get(f"{API}/user_account", headers=bearer(renewed["access_token"]))
        replaced = refresh(web, first["refresh_token"])

    assert renewed["response_type"] == "refresh_token"
    assert renewed["refresh_token"] != first["refresh_token"]
    assert renewed["refresh_token_expires_in"] == 60 * 86400
    assert refusal(replaced) == (401, 283, "The authorization grant is invalid")


def test_the_token_endpoint_takes_the_app_by_basic_authentication_only(
    web: httpx.Client,
) -> None:
    code = answer(consent(web))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}

    in_the_form = web.post(
        f"{API}/oauth/token", data=form | {"client_id": APP[0], "client_secret": APP[1]}
    )
    wrong_secret = web.post(f"{API}/oauth/token", data=form, auth=(APP[0], "nope"))

    assert refusal(in_the_form) == refusal(wrong_secret) == (401, 2, "Authentication failed.")


def test_a_code_used_twice_is_an_invalid_grant(web: httpx.Client) -> None:
    code = answer(consent(web))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}

    web.post(f"{API}/oauth/token", data=form, auth=APP)
    again = web.post(f"{API}/oauth/token", data=form, auth=APP)
    unknown = web.post(f"{API}/oauth/token", data={"grant_type": "password"}, auth=APP)

    assert refusal(again) == (401, 283, "The authorization grant is invalid")
    assert refusal(unknown)[:2] == (400, 1)


def test_an_access_token_lapses_after_30_days_with_authentication_failed(
    web: httpx.Client,
) -> None:
    headers = signed_in(web)

    with time_machine.travel(datetime.now(UTC) + timedelta(days=29), tick=True):
        assert web.get(f"{API}/user_account", headers=headers).status_code == 200
    with time_machine.travel(datetime.now(UTC) + timedelta(days=31), tick=True):
        expired = web.get(f"{API}/user_account", headers=headers)

    assert refusal(expired) == (401, 2, "Authentication failed.")


def test_every_dead_token_says_the_same(web: httpx.Client, sandbox: SandboxState) -> None:
    revoked, changed = signed_in(web), signed_in(web)
    sandbox.act_on_grant(sandbox.grants_for("alice")[0].id, "revoke")
    sandbox.change_password("alice", "changed")

    assert refusal(web.get(f"{API}/ad_accounts", headers=revoked)) == (
        401,
        2,
        "Authentication failed.",
    )
    assert refusal(web.get(f"{API}/ad_accounts", headers=changed))[:2] == (401, 2)
    assert refusal(web.get(f"{API}/ad_accounts"))[:2] == (401, 2)


def test_a_token_without_ads_read_is_refused_the_ad_accounts_with_code_3(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    headers = signed_in(web, scope="user_accounts:read")

    account = web.get(f"{API}/user_account", headers=headers).json()
    refused = web.get(f"{API}/ad_accounts", headers=headers)

    assert account == {
        "account_type": "BUSINESS",
        "id": pinterest_id(sandbox.user("alice")),
        "username": "alice",
        "business_name": "Alice Martin",
        "profile_image": account["profile_image"],
        "website_url": "",
    }
    status, code, message = refusal(refused)
    assert (status, code) == (401, 3)
    assert "sufficient permissions" in message


def test_unknown_paths_and_methods_answer_in_pinterests_body(web: httpx.Client) -> None:
    assert refusal(web.get(f"{API}/no/such/path")) == (404, 404, "Resource not found.")
    wrong_method = web.delete(f"{API}/ad_accounts")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == 5


def test_ad_accounts_page_with_a_bookmark(web: httpx.Client, sandbox: SandboxState) -> None:
    headers = signed_in(web)

    first = web.get(f"{API}/ad_accounts", headers=headers, params={"page_size": 5}).json()
    second = web.get(
        f"{API}/ad_accounts",
        headers=headers,
        params={"page_size": 5, "bookmark": first["bookmark"]},
    ).json()

    assert [set(a) for a in first["items"]] == [
        {"id", "name", "owner", "country", "currency", "permissions"}
    ] * 5
    assert first["items"][0]["owner"] == {
        "username": "alice",
        "id": pinterest_id(sandbox.user("alice")),
    }
    assert [a["id"] for a in first["items"] + second["items"]] == sandbox.reachable_account_ids(
        "u_alice"
    )
    assert second["bookmark"] is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"page_size": "3e"}, "Parameter 'page_size' was not numeric (was 3e)"),
        ({"page_size": "251"}, "Invalid request: page_size must be from 1 to 250."),
        ({"bookmark": "not-ours"}, "Invalid request: the bookmark is not valid."),
    ],
)
def test_bad_paging_is_an_invalid_request(
    web: httpx.Client, params: dict[str, str], message: str
) -> None:
    refused = web.get(f"{API}/ad_accounts", headers=signed_in(web), params=params)

    assert refusal(refused) == (400, 1, message)


def analytics(web: httpx.Client, headers: dict[str, str], account_id: str, **params: Any) -> Any:
    today = datetime.now(UTC).date()
    query = {
        "start_date": (today - timedelta(days=2)).isoformat(),
        "end_date": today.isoformat(),
        "columns": COLUMNS,
        "granularity": "DAY",
        **params,
    }
    return web.get(f"{API}/ad_accounts/{account_id}/analytics", headers=headers, params=query)


def test_analytics_answer_a_row_per_day_with_the_asked_columns(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    account = sandbox.accounts[sandbox.reachable_account_ids("u_alice")[0]]
    today = datetime.now(UTC).date()

    rows = analytics(web, signed_in(web), account.id).json()

    assert [row["DATE"] for row in rows] == [
        (today - timedelta(days=n)).isoformat() for n in (2, 1, 0)
    ]
    row, expected = rows[0], day_metrics(account, today - timedelta(days=2))
    assert set(row) <= {"DATE", "AD_ACCOUNT_ID", *COLUMNS.split(",")}
    assert (row["AD_ACCOUNT_ID"], row["IMPRESSION_1"], row["CLICKTHROUGH_1"]) == (
        account.id,
        expected["impressions"],
        expected["clicks"],
    )
    assert row["SPEND_IN_MICRO_DOLLAR"] == int(expected["spend"].replace(".", "")) * 10_000


@pytest.mark.parametrize(
    ("params", "refused"),
    [
        ({"start_date": "2026-13-01"}, (400, 400, "Invalid ad account analytics parameters.")),
        ({"granularity": "HOUR"}, (400, 400, "Invalid ad account analytics parameters.")),
        ({"columns": "IMPRESSION_1,MOOD"}, (400, 400, "Invalid ad account analytics parameters.")),
        ({"days_back": 91}, (400, 1, "You can only get data from the last 90 days.")),
        ({"days_long": 92}, (400, 400, "Invalid ad account analytics parameters.")),
    ],
)
def test_analytics_refuse_what_pinterest_refuses(
    web: httpx.Client, sandbox: SandboxState, params: dict[str, Any], refused: tuple[int, int, str]
) -> None:
    today = datetime.now(UTC).date()
    if "days_back" in params:
        start = today - timedelta(days=params.pop("days_back"))
        params |= {"start_date": start.isoformat(), "end_date": (start + timedelta(1)).isoformat()}
    if "days_long" in params:
        start = today - timedelta(days=89)
        end = start + timedelta(days=params.pop("days_long"))
        params |= {"start_date": start.isoformat(), "end_date": end.isoformat()}
    account_id = sandbox.reachable_account_ids("u_alice")[0]

    assert refusal(analytics(web, signed_in(web), account_id, **params)) == refused


def test_an_ad_account_out_of_reach_is_403_and_one_unknown_404(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    headers = signed_in(web)
    lost = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.remove_access("alice", lost)

    assert refusal(analytics(web, headers, lost)) == (
        403,
        29,
        "You are not permitted to access that resource.",
    )
    assert refusal(analytics(web, headers, "99999999")) == (404, 2, "AdAccount not found.")
    assert refusal(analytics(web, headers, "act_1"))[:2] == (400, 400)


def test_a_throttle_is_a_429_with_code_8_and_the_reset_in_seconds(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    headers = signed_in(web)
    sandbox.set_user_faults(["alice"], throttle_retry_after=300)

    throttled = web.get(f"{API}/ad_accounts", headers=headers)

    status, code, message = refusal(throttled)
    assert (status, code) == (429, 8)
    assert message.startswith("This request exceeded a rate limit.")
    assert throttled.headers["x-ratelimit-reset"] == "300"
    assert throttled.headers["x-ratelimit-remaining"] == "0"
    assert "retry-after" not in throttled.headers


def test_down_is_code_12_at_the_api_and_the_token_endpoint(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    first = token(web).json()
    sandbox.set_faults(down=True)

    went_wrong = (500, 12, "Something went wrong on our end. Sorry about that.")
    assert refusal(web.get(f"{API}/user_account", headers=bearer(first["access_token"]))) == (
        went_wrong
    )
    assert refusal(refresh(web, first["refresh_token"])) == went_wrong


def test_revoking_a_members_token_is_not_permitted_and_the_grant_lives_on(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    access = token(web).json()["access_token"]

    refused = web.post(f"{API}/oauth/token/revoke", data={"token": access}, auth=APP)
    anonymous = web.post(f"{API}/oauth/token/revoke", data={"token": access})

    assert refusal(refused) == (403, 29, "You are not permitted to access that resource.")
    assert refusal(anonymous) == (401, 2, "Authentication failed.")
    (grant,) = sandbox.grants_for("alice")
    assert grant.revoked_reason is None
    assert web.get(f"{API}/user_account", headers=bearer(access)).status_code == 200
