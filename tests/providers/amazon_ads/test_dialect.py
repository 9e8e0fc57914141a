"""The sandbox's Amazon dialect in Amazon's own shapes: Login with Amazon's consent redirects, its
token answers (an hour, a refresh token replaced on every refresh) and refusals, the customer
profile, `/v2/profiles` per region, the asynchronous report with its file behind a presigned
link, and the Ads API's error bodies for every switch."""

import base64
import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine

from tether.sandbox import SandboxState
from tether.sandbox.dialects.amazon import BAD_REFRESH, amazon_user_id
from tether.sandbox.dialects.amazon_api import marketplace_of, profile_id
from tether.sandbox.metrics import day_metrics

WWW = "/amazon/www/ap/oa"
TOKEN = "/amazon/lwa/auth/o2/token"
APP = {"client_id": "tether", "client_secret": "tether-sandbox-secret"}
REDIRECT = "http://127.0.0.1:9/cb"
SCOPE = "advertising::campaign_management profile"
REPORTS = "application/vnd.createasyncreportrequest.v3+json"


@pytest.fixture
def web(sandbox: SandboxState, sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_url, timeout=10, follow_redirects=False) as client:
        yield client


def sign_in(
    web: httpx.Client, decision: str = "allow", username: str = "alice", **extra: str
) -> httpx.Response:
    query = {"response_type": "code", "client_id": "tether", "redirect_uri": REDIRECT}
    query |= {"state": "s", "scope": SCOPE, **extra}
    page = web.get(WWW, params=query)
    assert page.status_code == 200, page.text
    form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
    form |= {"username": username, "password": f"{username}-password", "decision": decision}
    return web.post(WWW, data=form)


def answer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def tokens(web: httpx.Client, username: str = "alice", scope: str = SCOPE) -> dict[str, Any]:
    code = answer(sign_in(web, username=username, scope=scope))["code"]
    form = {**APP, "grant_type": "authorization_code", "redirect_uri": REDIRECT, "code": code}
    response = web.post(TOKEN, data=form)
    assert response.status_code == 200, response.text
    return dict(response.json())


def refreshed(web: httpx.Client, refresh_token: object) -> httpx.Response:
    return web.post(
        TOKEN, data={**APP, "grant_type": "refresh_token", "refresh_token": refresh_token}
    )


def ads(token: object, profile: object = None, **extra: str) -> dict[str, str]:
    """The headers of an Ads API call, with a profile's scope when given."""
    headers = {"Authorization": f"Bearer {token}", "Amazon-Advertising-API-ClientId": "tether"}
    if profile is not None:
        headers["Amazon-Advertising-API-Scope"] = str(profile)
    return headers | extra


def a_profile(
    sandbox: SandboxState, username: str = "alice", region: str = "na"
) -> tuple[str, int]:
    """One of the user's accounts in a region, and its profile id."""
    number = next(
        n
        for n in sandbox.reachable_account_ids(f"u_{username}")
        if marketplace_of(sandbox.accounts[n]).region == region
    )
    return number, profile_id(number)


def report_body(first: date, last: date, **configuration: Any) -> dict[str, Any]:
    columns = ["date", "impressions", "clicks", "cost", "purchases7d"]
    config = {
        "adProduct": "SPONSORED_PRODUCTS",
        "groupBy": ["campaign"],
        "columns": columns,
        "reportTypeId": "spCampaigns",
        "timeUnit": "DAILY",
        "format": "GZIP_JSON",
    }
    name = f"t {first}..{last}"
    return {
        "name": name,
        "startDate": str(first),
        "endDate": str(last),
        "configuration": config | configuration,
    }


def ask(web: httpx.Client, token: object, profile: int, body: dict[str, Any]) -> httpx.Response:
    return web.post(
        "/amazon/na/reporting/reports",
        content=json.dumps(body),
        headers=ads(token, profile, **{"Content-Type": REPORTS}),
    )


def yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def test_consent_sends_the_code_back_with_the_scope_and_the_state(web: httpx.Client) -> None:
    back = answer(sign_in(web))

    assert back["code"]
    assert (back["scope"], back["state"]) == (SCOPE, "s")


@pytest.mark.parametrize(
    ("decision", "extra", "error"),
    [
        ("deny", {}, "access_denied"),
        ("allow", {"scope": "cpc_advertising:everything"}, "invalid_scope"),
        ("allow", {"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_a_refused_consent_goes_back_with_oauths_error(
    web: httpx.Client, decision: str, extra: dict[str, str], error: str
) -> None:
    query = {"response_type": "code", "client_id": "tether", "redirect_uri": REDIRECT}
    query |= {"state": "s", "scope": SCOPE, **extra}
    if decision == "deny":
        refused = answer(sign_in(web, decision="deny"))
    else:
        refused = answer(web.get(WWW, params=query))

    assert (refused["error"], refused["state"]) == (error, "s")


def test_an_unknown_client_is_shown_on_the_page_not_redirected(web: httpx.Client) -> None:
    page = web.get(
        WWW, params={"response_type": "code", "client_id": "nobody", "redirect_uri": REDIRECT}
    )

    assert page.status_code == 400
    assert "client_id is not registered" in page.text


def test_the_code_answers_login_with_amazons_token_shape_with_an_hour_long_token(
    web: httpx.Client,
) -> None:
    body = tokens(web)

    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", 3600)


def test_every_refresh_replaces_the_refresh_token_and_a_replaced_one_is_refused(
    web: httpx.Client,
) -> None:
    first = tokens(web)

    with time_machine.travel(datetime.now(UTC) + timedelta(days=400), tick=True):
        renewed = refreshed(web, first["refresh_token"])
        assert renewed.status_code == 200, renewed.text
        used = web.get("/amazon/na/v2/profiles", headers=ads(renewed.json()["access_token"]))
        stale = refreshed(web, first["refresh_token"])

    assert renewed.json()["refresh_token"] != first["refresh_token"]
    assert renewed.json()["expires_in"] == 3600
    assert used.status_code == 200
    assert (stale.status_code, stale.json()) == (
        400,
        {"error_description": BAD_REFRESH, "error": "invalid_grant"},
    )


def test_the_token_endpoint_refuses_in_login_with_amazons_words(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    revoked = tokens(web)
    sandbox.act_on_user_grants("alice", "revoke")

    dead = refreshed(web, revoked["refresh_token"])
    wrong = web.post(TOKEN, data={**APP, "client_secret": "nope", "grant_type": "refresh_token"})
    unknown = web.post(TOKEN, data={**APP, "grant_type": "password"})
    reused = web.post(
        TOKEN,
        data={**APP, "grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT},
    )

    assert (dead.status_code, dead.json()["error"], dead.json()["error_description"]) == (
        400,
        "invalid_grant",
        BAD_REFRESH,
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unsupported_grant_type")
    assert reused.json() == {
        "error_description": "The request has an invalid grant parameter : code",
        "error": "invalid_grant",
    }


def test_the_customer_profile_names_who_signed_in(web: httpx.Client, sandbox: SandboxState) -> None:
    token = tokens(web)["access_token"]
    narrow = tokens(web, scope="advertising::campaign_management")["access_token"]

    me = web.get("/amazon/lwa/user/profile", headers={"Authorization": f"Bearer {token}"})
    unnamed = web.get("/amazon/lwa/user/profile", headers={"Authorization": f"Bearer {narrow}"})
    nobody = web.get("/amazon/lwa/user/profile", headers={"Authorization": "Bearer sbx_at_x"})

    assert me.json() == {
        "user_id": amazon_user_id(sandbox.user("alice")),
        "name": "Alice Martin",
        "email": "alice@sandbox.test",
    }
    assert (unnamed.status_code, unnamed.json()["error"]) == (403, "insufficient_scope")
    assert (nobody.status_code, nobody.json()["error"]) == (401, "invalid_token")


def test_each_region_lists_its_own_profiles_in_amazons_shape(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    sandbox.add_account("Kyoto Tea House — Search", currency="JPY", users=["alice"])
    token = tokens(web)["access_token"]

    listed = {
        r: web.get(f"/amazon/{r}/v2/profiles", headers=ads(token)).json()
        for r in ("na", "eu", "fe")
    }

    reached = sandbox.reachable_account_ids("u_alice")
    for region, profiles in listed.items():
        assert {p["profileId"] for p in profiles} == {
            profile_id(n) for n in reached if marketplace_of(sandbox.accounts[n]).region == region
        }
    (japan,) = listed["fe"]
    assert japan == {
        "profileId": japan["profileId"],
        "countryCode": "JP",
        "currencyCode": "JPY",
        "timezone": "Asia/Tokyo",
        "accountInfo": {
            "marketplaceStringId": "A1VC38T7YXB528",
            "id": japan["accountInfo"]["id"],
            "type": japan["accountInfo"]["type"],
            "name": "Kyoto Tea House — Search",
            "validPaymentMethod": True,
        },
    }


def test_profiles_are_filtered_by_type_and_a_bad_filter_is_refused(
    web: httpx.Client,
) -> None:
    token = tokens(web)["access_token"]
    every = web.get("/amazon/na/v2/profiles", headers=ads(token)).json()

    sellers = web.get(
        "/amazon/na/v2/profiles", headers=ads(token), params={"profileTypeFilter": "seller"}
    )
    bad = web.get(
        "/amazon/na/v2/profiles", headers=ads(token), params={"profileTypeFilter": "shop"}
    )

    assert {p["accountInfo"]["type"] for p in sellers.json()} == {"seller"}
    assert len(sellers.json()) == sum(p["accountInfo"]["type"] == "seller" for p in every)
    assert (bad.status_code, bad.json()["code"]) == (400, "400")


def test_a_call_without_the_client_id_or_with_a_dead_token_fails_authentication(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]

    anonymous = web.get("/amazon/na/v2/profiles", headers={"Authorization": f"Bearer {token}"})
    sandbox.act_on_user_grants("alice", "expire-access")
    expired = web.get("/amazon/na/v2/profiles", headers=ads(token))

    for refused in (anonymous, expired):
        assert (refused.status_code, refused.json()) == (
            401,
            {"code": "401", "details": "Authentication failed"},
        )


def test_a_report_is_pending_then_completed_with_a_file_of_campaign_rows_per_day(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]
    number, profile = a_profile(sandbox)
    first, last = yesterday() - timedelta(days=2), yesterday()

    created = ask(web, token, profile, report_body(first, last))
    status = web.get(
        f"/amazon/na/reporting/reports/{created.json()['reportId']}", headers=ads(token, profile)
    )
    file = httpx.get(status.json()["url"])

    assert (created.status_code, created.json()["status"], created.json()["url"]) == (
        200,
        "PENDING",
        None,
    )
    report = status.json()
    assert (report["status"], report["startDate"], report["endDate"]) == (
        "COMPLETED",
        str(first),
        str(last),
    )
    assert report["fileSize"] == len(file.content)
    rows = json.loads(gzip.decompress(file.content))
    assert {tuple(r) for r in rows} == {("date", "impressions", "clicks", "cost", "purchases7d")}
    for n in range(3):
        day = first + timedelta(days=n)
        figures = day_metrics(sandbox.accounts[number], day)
        of_day = [r for r in rows if r["date"] == day.isoformat()]
        assert len(of_day) >= 2  # one row per campaign with delivery
        assert sum(r["impressions"] for r in of_day) == figures["impressions"]
        assert sum(r["clicks"] for r in of_day) == figures["clicks"]
        assert sum(r["purchases7d"] for r in of_day) == figures["conversions"]
        assert sum(Decimal(str(r["cost"])) for r in of_day) == Decimal(figures["spend"])


def test_asking_again_while_a_report_is_made_is_a_425_naming_it(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]
    _, profile = a_profile(sandbox)
    body = report_body(yesterday(), yesterday())

    first = ask(web, token, profile, body)
    again = ask(web, token, profile, body)
    web.get(f"/amazon/na/reporting/reports/{first.json()['reportId']}", headers=ads(token, profile))
    after = ask(web, token, profile, body)

    assert (again.status_code, again.json()) == (
        425,
        {"code": "425", "detail": f"The Request is a duplicate of : {first.json()['reportId']}"},
    )
    assert after.status_code == 200  # once made, the same request is a new report
    assert after.json()["reportId"] != first.json()["reportId"]


@pytest.mark.parametrize(
    ("days_back", "span", "status", "words"),
    [
        (1, 32, 400, "at most 31 days"),
        (120, 1, 406, "Report date is too far in the past."),
    ],
)
def test_a_range_amazon_does_not_make_is_refused(
    web: httpx.Client, sandbox: SandboxState, days_back: int, span: int, status: int, words: str
) -> None:
    token = tokens(web)["access_token"]
    _, profile = a_profile(sandbox)
    last = datetime.now(UTC).date() - timedelta(days=days_back)

    refused = ask(web, token, profile, report_body(last - timedelta(days=span - 1), last))

    assert refused.status_code == status
    assert words in refused.json()["details"]


def test_a_configuration_or_content_type_the_sandbox_does_not_make_is_refused(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]
    _, profile = a_profile(sandbox)
    body = report_body(yesterday(), yesterday())

    summary = ask(web, token, profile, report_body(yesterday(), yesterday(), timeUnit="SUMMARY"))
    column = ask(
        web, token, profile, report_body(yesterday(), yesterday(), columns=["date", "acos"])
    )
    plain = web.post(
        "/amazon/na/reporting/reports",
        content=json.dumps(body),
        headers=ads(token, profile, **{"Content-Type": "text/plain"}),
    )

    assert (summary.status_code, column.status_code, plain.status_code) == (400, 400, 415)
    assert "(acos)" in column.json()["details"]


def test_a_profile_out_of_reach_is_refused_in_the_words_of_amazons_error_table(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]
    lost, lost_profile = a_profile(sandbox)
    _, european = a_profile(sandbox, region="eu")
    sandbox.remove_access("alice", lost)
    body = report_body(yesterday(), yesterday())

    gone = ask(web, token, lost_profile, body)
    elsewhere = ask(web, token, european, body)  # an EU profile on the NA host
    unknown = ask(web, token, 123, body)
    unscoped = web.post("/amazon/na/reporting/reports", json=body, headers=ads(token))

    assert [r.status_code for r in (gone, elsewhere, unknown, unscoped)] == [401] * 4
    assert gone.json() == {
        "code": "UNAUTHORIZED",
        "details": f"Not authorized to access scope {lost_profile}",
    }
    assert elsewhere.json()["details"] == f"Not authorized to access scope {european}"
    assert unknown.json()["details"] == "No matching advertiser found for scope 123"
    assert unscoped.json()["details"] == "Scope header is missing"


def test_a_reports_link_expires_after_an_hour_and_cannot_be_tampered_with(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]
    _, profile = a_profile(sandbox)
    created = ask(web, token, profile, report_body(yesterday(), yesterday()))
    report = web.get(
        f"/amazon/na/reporting/reports/{created.json()['reportId']}", headers=ads(token, profile)
    )
    link = report.json()["url"]

    tampered = httpx.get(link.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=2), tick=True):
        late = httpx.get(link)

    assert (tampered.status_code, late.status_code) == (403, 403)
    assert "<Code>SignatureDoesNotMatch</Code>" in tampered.text
    assert "<Message>Request has expired</Message>" in late.text


def test_down_and_throttled_answer_as_amazon_does(web: httpx.Client, sandbox: SandboxState) -> None:
    token = tokens(web)["access_token"]
    first = tokens(web, "bob")

    sandbox.set_faults(down=True)
    down = web.get("/amazon/na/v2/profiles", headers=ads(token))
    sandbox.set_faults(down=False, throttle_retry_after=30)
    throttled = web.get("/amazon/eu/v2/profiles", headers=ads(token))
    token_throttled = refreshed(web, first["refresh_token"])

    assert (down.status_code, down.json()["code"]) == (500, "500")
    for slowed in (throttled, token_throttled):
        assert (slowed.status_code, slowed.headers["retry-after"]) == (429, "30")
        assert slowed.json() == {"message": "Too Many Requests"}


def test_an_unknown_path_is_amazons_not_found(web: httpx.Client) -> None:
    token = tokens(web)["access_token"]

    for path in ("/amazon/na/v2/campaigns", "/amazon/us/v2/profiles"):
        missing = web.get(path, headers=ads(token))

        assert missing.status_code == 404
        assert missing.json()["code"] == "NOT_FOUND"
        assert missing.json()["details"].startswith("Could not find resource for full path: http")


def test_a_code_asked_for_with_pkce_is_traded_only_with_its_verifier(web: httpx.Client) -> None:
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    pkce = {"code_challenge": challenge.decode().rstrip("="), "code_challenge_method": "S256"}
    trade = {**APP, "grant_type": "authorization_code", "redirect_uri": REDIRECT}

    without = web.post(TOKEN, data={**trade, "code": answer(sign_in(web, **pkce))["code"]})
    code = answer(sign_in(web, **pkce))["code"]
    with_it = web.post(TOKEN, data={**trade, "code": code, "code_verifier": verifier})

    assert (without.status_code, without.json()["error"]) == (400, "invalid_request")
    assert with_it.status_code == 200, with_it.text


def test_the_profiles_list_has_no_paging_and_stops_at_5000(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    sandbox.create_accounts(5001, users=["carol"], currency="USD")
    token = tokens(web, "carol")["access_token"]

    listed = web.get("/amazon/na/v2/profiles", headers=ads(token))

    assert listed.status_code == 200
    assert isinstance(listed.json(), list)
    assert len(listed.json()) == 5000
