"""The sandbox's Snapchat dialect in Snap's own shapes: the log-in's redirects, the token answers
and their lifetimes, `/v1/me`, organizations and ad accounts paged by `limit` and
`next_link`, stats per day from each account's midnight, and Snap's error envelope."""

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine

from tether.sandbox import SandboxState
from tether.sandbox.dialects.snapchat_api import account_timezone, organization_of, snap_id
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import NewAccount

LOGIN = "/snapchat/accounts/login/oauth2"
API = "/snapchat/api/v1"
APP = {"client_id": "tether", "client_secret": "tether-sandbox-secret"}
REDIRECT = "http://127.0.0.1:9/cb"
SCOPE = "snapchat-marketing-api"


@pytest.fixture
def web(sandbox: SandboxState, sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_url, timeout=10, follow_redirects=False) as client:
        yield client


def sign_in(
    web: httpx.Client, decision: str = "allow", username: str = "alice", **extra: str
) -> httpx.Response:
    query = {"response_type": "code", "client_id": "tether", "redirect_uri": REDIRECT}
    query |= {"state": "s", "scope": SCOPE, **extra}
    page = web.get(f"{LOGIN}/authorize", params=query)
    assert page.status_code == 200, page.text
    form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
    form |= {"username": username, "password": f"{username}-password", "decision": decision}
    return web.post(f"{LOGIN}/authorize", data=form)


def answer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def tokens(web: httpx.Client, username: str = "alice") -> dict[str, object]:
    code = answer(sign_in(web, username=username))["code"]
    form = {**APP, "grant_type": "authorization_code", "redirect_uri": REDIRECT, "code": code}
    response = web.post(f"{LOGIN}/access_token", data=form)
    assert response.status_code == 200, response.text
    return dict(response.json())


def refreshed(web: httpx.Client, refresh_token: object) -> httpx.Response:
    form = {**APP, "grant_type": "refresh_token", "refresh_token": str(refresh_token)}
    return web.post(f"{LOGIN}/access_token", data=form)


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def zoned_account(sandbox: SandboxState, username: str = "alice") -> str:
    """One of the user's accounts whose days do not start at midnight UTC."""
    return next(
        n
        for n in sandbox.reachable_account_ids(f"u_{username}")
        if account_timezone(n) not in ("UTC", "Europe/London")
    )


def test_the_code_answers_snaps_token_shape_with_an_hour_long_token(web: httpx.Client) -> None:
    body = tokens(web)

    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 3600, SCOPE)


def test_a_refresh_answers_a_new_access_token_and_the_refresh_token_lives_on(
    web: httpx.Client,
) -> None:
    first = tokens(web)

    with time_machine.travel(datetime.now(UTC) + timedelta(hours=2), tick=True):
        renewed = refreshed(web, first["refresh_token"])
    with time_machine.travel(datetime.now(UTC) + timedelta(days=400), tick=True):
        much_later = refreshed(web, first["refresh_token"])

    assert renewed.status_code == 200, renewed.text
    assert "refresh_token" not in renewed.json()
    assert renewed.json()["access_token"] != first["access_token"]
    assert renewed.json()["expires_in"] == 3600
    assert much_later.status_code == 200, much_later.text


def test_a_revoked_or_ended_grant_is_refused_its_refresh_in_oauths_words(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    revoked, ended = tokens(web), tokens(web, "bob")
    sandbox.act_on_user_grants("alice", "revoke")
    sandbox.act_on_user_grants("bob", "expire")

    refused = refreshed(web, revoked["refresh_token"])
    expired = refreshed(web, ended["refresh_token"])

    assert (refused.status_code, expired.status_code) == (400, 400)
    assert refused.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid refresh token.",
    }
    assert expired.json() == {
        "error": "invalid_grant",
        "error_description": "The refresh token has expired.",
    }


def test_denying_sends_access_denied_back_with_the_state(web: httpx.Client) -> None:
    refused = answer(sign_in(web, decision="deny"))

    assert (refused["error"], refused["state"]) == ("access_denied", "s")


def test_an_unknown_client_is_shown_on_the_page_not_redirected(web: httpx.Client) -> None:
    page = web.get(
        f"{LOGIN}/authorize",
        params={"response_type": "code", "client_id": "nobody", "redirect_uri": REDIRECT},
    )

    assert page.status_code == 400
    assert "client_id is not valid" in page.text


def test_me_names_the_member_with_snaps_ids(web: httpx.Client, sandbox: SandboxState) -> None:
    token = tokens(web)["access_token"]

    body = web.get(f"{API}/me", headers=bearer(token)).json()

    assert body["request_status"] == "SUCCESS"
    me = body["me"]
    assert (me["display_name"], me["email"]) == ("Alice Martin", "alice@sandbox.test")
    first = sandbox.accounts[sandbox.reachable_account_ids("u_alice")[0]]
    assert me["id"] == snap_id("member", "u_alice") == str(uuid.UUID(me["id"]))
    assert me["organization_id"] == snap_id("organization", organization_of(first))


def test_organizations_page_by_limit_and_next_link(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    sandbox.add_accounts(
        NewAccount(f"Brand {n:02d} — Story", "EUR", None, ("bob",)) for n in range(60)
    )
    token = tokens(web, "bob")["access_token"]

    first = web.get(f"{API}/me/organizations", params={"limit": 50}, headers=bearer(token)).json()
    rest = web.get(first["paging"]["next_link"], headers=bearer(token)).json()
    too_small = web.get(f"{API}/me/organizations", params={"limit": 10}, headers=bearer(token))

    names = [o["organization"]["name"] for o in first["organizations"] + rest["organizations"]]
    reachable = [sandbox.accounts[n] for n in sandbox.reachable_account_ids("u_bob")]
    assert names == list(dict.fromkeys(organization_of(a) for a in reachable))
    assert len(first["organizations"]) == 50
    assert rest["paging"] == {}
    assert {o["sub_request_status"] for o in first["organizations"]} == {"SUCCESS"}
    assert too_small.status_code == 400


def test_an_organizations_ad_accounts_carry_their_currency_and_time_zone(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]
    organization = web.get(f"{API}/me/organizations", headers=bearer(token)).json()
    first = organization["organizations"][0]["organization"]

    listed = web.get(f"{API}/organizations/{first['id']}/adaccounts", headers=bearer(token)).json()

    mine = [
        sandbox.accounts[n]
        for n in sandbox.reachable_account_ids("u_alice")
        if organization_of(sandbox.accounts[n]) == first["name"]
    ]
    nodes = [item["adaccount"] for item in listed["adaccounts"]]
    assert [n["id"] for n in nodes] == [snap_id("adaccount", a.id) for a in mine]
    assert [(n["currency"], n["timezone"]) for n in nodes] == [
        (a.currency, account_timezone(a.id)) for a in mine
    ]
    assert {n["organization_id"] for n in nodes} == {first["id"]}


def test_another_members_organization_and_a_lost_account_are_refused_with_e3002(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]
    carols = organization_of(sandbox.accounts[sandbox.reachable_account_ids("u_carol")[0]])
    lost = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.remove_access("alice", lost)

    other = web.get(
        f"{API}/organizations/{snap_id('organization', carols)}/adaccounts", headers=bearer(token)
    )
    gone = web.get(f"{API}/adaccounts/{snap_id('adaccount', lost)}", headers=bearer(token))

    for refused in (other, gone):
        assert refused.status_code == 403
        assert refused.json()["error_code"] == "E3002"
        assert refused.json()["debug_message"] == "Caller does not have permission"
        assert refused.json()["request_status"] == "ERROR"


def test_day_stats_run_from_the_accounts_midnight_with_spend_in_micros(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]
    number = zoned_account(sandbox)
    zone = ZoneInfo(account_timezone(number))
    start = datetime.combine(date(2026, 3, 6), time(0), tzinfo=zone)
    params = {
        "granularity": "DAY",
        "fields": "impressions,swipes,spend,conversion_purchases,conversion_sign_ups",
        "start_time": start.isoformat(timespec="milliseconds"),
        "end_time": (start + timedelta(days=3)).isoformat(timespec="milliseconds"),
    }

    with time_machine.travel(datetime(2026, 4, 1, 12, tzinfo=UTC), tick=True):
        url = f"{API}/adaccounts/{snap_id('adaccount', number)}/stats"
        body = web.get(url, params=params, headers=bearer(token)).json()

    (wrapped,) = body["timeseries_stats"]
    stat = wrapped["timeseries_stat"]
    assert (stat["type"], stat["granularity"]) == ("AD_ACCOUNT", "DAY")
    days = [date(2026, 3, 6) + timedelta(days=n) for n in range(3)]
    assert [p["start_time"] for p in stat["timeseries"]] == [
        datetime.combine(d, time(0), tzinfo=zone).isoformat(timespec="milliseconds") for d in days
    ]
    for point, day in zip(stat["timeseries"], days, strict=True):
        expected = day_metrics(sandbox.accounts[number], day)
        stats = point["stats"]
        assert (stats["impressions"], stats["swipes"]) == (
            expected["impressions"],
            expected["clicks"],
        )
        assert stats["spend"] == int(Decimal(expected["spend"]) * 1_000_000)
        assert (
            stats["conversion_purchases"] + stats["conversion_sign_ups"] == expected["conversions"]
        )


def test_a_day_query_off_the_accounts_midnight_too_long_or_unknown_is_refused_e1008(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]
    number = zoned_account(sandbox)
    url = f"{API}/adaccounts/{snap_id('adaccount', number)}/stats"
    zone = ZoneInfo(account_timezone(number))
    midnight = datetime.combine(date(2026, 1, 1), time(0), tzinfo=zone)

    def stats(start: datetime, days: int, fields: str = "spend") -> httpx.Response:
        end = (start + timedelta(days=days)).isoformat()
        query = {"granularity": "DAY", "fields": fields, "start_time": start.isoformat()}
        return web.get(url, params=query | {"end_time": end}, headers=bearer(token))

    utc = stats(datetime(2026, 1, 1, tzinfo=UTC), 3)
    long = stats(midnight, 32)
    unknown = stats(midnight, 3, "spend,likes")
    fine = stats(midnight, 31)

    for refused in (utc, long, unknown):
        assert refused.status_code == 400
        assert refused.json()["error_code"] == "E1008"
        assert refused.json()["debug_message"].startswith("Unsupported Stats Query")
    assert f"This account's timezone is: {zone.key}" in utc.json()["debug_message"]
    assert fine.status_code == 200, fine.text


def test_throttled_is_a_429_with_snaps_rate_limit_headers_and_down_a_503(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    token = tokens(web)["access_token"]
    sandbox.set_faults(throttle_retry_after=90)
    throttled = web.get(f"{API}/me", headers=bearer(token))
    sandbox.set_faults(throttle_retry_after=None, down=True)
    down = web.get(f"{API}/me", headers=bearer(token))

    assert throttled.status_code == 429
    assert throttled.json()["msg"] == "Rate limit exceeded"
    assert throttled.headers["Retry-After"] == "90"
    assert throttled.headers["X-Rate-Limit-Remaining"] == "0"
    reset = int(throttled.headers["X-Rate-Limit-Reset"])
    assert 85 <= reset - datetime.now(UTC).timestamp() <= 91
    assert down.status_code == 503
    assert down.json()["request_status"] == "ERROR"


def test_unknown_paths_and_a_missing_token_answer_in_snaps_envelope(web: httpx.Client) -> None:
    unknown = web.get(f"{API}/adnothing")
    anonymous = web.get(f"{API}/me")

    assert (unknown.status_code, unknown.json()["error_code"]) == (404, "E3003")
    assert anonymous.status_code == 401
    assert anonymous.json()["msg"] == "Unauthorized"
    assert set(anonymous.json()) == {"request_status", "request_id", "msg"}
