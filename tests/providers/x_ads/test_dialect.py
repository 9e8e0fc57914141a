"""The sandbox's X dialect in X's own shapes, over HTTP: OAuth 1.0a's three legs with every
signature checked, tokens that never expire, the member, accounts and their paging, active
entities, stats jobs and their gzip files, and each switch in X's error bodies."""

import gzip
import json
import re
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine

from tether.sandbox import SandboxState
from tether.sandbox.dialects.x_api import account_timezone, x_id
from tether.sandbox.dialects.x_stats import campaigns
from tether.sandbox.metrics import day_metrics

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import OAuth1Auth

API = "/x/api"
ADS = "/x/ads/12"
CALLBACK = "http://127.0.0.1:9/cb"
CONSUMER = ("tether", "tether-sandbox-secret")


@pytest.fixture
def web(sandbox: SandboxState, sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_url, timeout=10, follow_redirects=False) as client:
        yield client


def app(**more: str) -> OAuth1Auth:
    return OAuth1Auth(*CONSUMER, **more)


def form_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return dict(parse_qsl(response.text))


def request_token(web: httpx.Client) -> dict[str, str]:
    return form_of(web.post(f"{API}/oauth/request_token", auth=app(redirect_uri=CALLBACK)))


def consent(web: httpx.Client, token: str, decision: str = "allow") -> dict[str, str]:
    """The consent page, signed in as alice; where it sends the browser back to."""
    page = web.get(f"{API}/oauth/authorize", params={"oauth_token": token})
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
    fields |= {"username": "alice", "password": "alice-password", "decision": decision}
    back = web.post(f"{API}/oauth/authorize", data=fields)
    assert back.status_code == 302, back.text
    location = back.headers["location"]
    assert location.startswith(CALLBACK)
    return dict(parse_qsl(urlsplit(location).query))


def exchange(web: httpx.Client, issued: dict[str, str], verifier: str) -> httpx.Response:
    signer = app(
        token=issued["oauth_token"], token_secret=issued["oauth_token_secret"], verifier=verifier
    )
    return web.post(f"{API}/oauth/access_token", auth=signer)


def signed_in(web: httpx.Client) -> OAuth1Auth:
    """The three legs, as alice: a signer with her access token and its secret."""
    issued = request_token(web)
    back = consent(web, issued["oauth_token"])
    granted = form_of(exchange(web, issued, back["oauth_verifier"]))
    return app(token=granted["oauth_token"], token_secret=granted["oauth_token_secret"])


def errors(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    (error,) = body["errors"]
    return dict(error)


def alices_first(sandbox: SandboxState) -> str:
    return sandbox.reachable_account_ids("u_alice")[0]


def test_a_request_token_names_its_callback_confirmed(web: httpx.Client) -> None:
    issued = request_token(web)

    assert issued.keys() == {"oauth_token", "oauth_token_secret", "oauth_callback_confirmed"}
    assert issued["oauth_callback_confirmed"] == "true"


def test_a_request_signed_with_the_wrong_consumer_secret_is_not_authenticated(
    web: httpx.Client,
) -> None:
    wrong = OAuth1Auth("tether", "not-the-secret", redirect_uri=CALLBACK)

    refused = web.post(f"{API}/oauth/request_token", auth=wrong)

    assert errors(refused, 401) == {"code": 32, "message": "Could not authenticate you."}


def test_a_request_without_oauth_is_bad_authentication_data(web: httpx.Client) -> None:
    refused = web.get(f"{ADS}/accounts")

    assert errors(refused, 400) == {"code": 215, "message": "Bad Authentication data."}


def test_consenting_sends_the_token_and_a_verifier_back_and_refusing_says_denied(
    web: httpx.Client,
) -> None:
    issued = request_token(web)
    refused = request_token(web)

    back = consent(web, issued["oauth_token"])
    denied = consent(web, refused["oauth_token"], decision="deny")

    assert back.keys() == {"oauth_token", "oauth_verifier"}
    assert back["oauth_token"] == issued["oauth_token"]
    assert denied == {"denied": refused["oauth_token"]}


def test_a_page_for_an_unknown_request_token_shows_an_error_and_sends_nowhere(
    web: httpx.Client,
) -> None:
    page = web.get(f"{API}/oauth/authorize", params={"oauth_token": "not-one"})

    assert page.status_code == 400
    assert "no longer valid" in page.text
    assert "location" not in page.headers


def test_the_exchange_answers_a_token_its_secret_and_who_signed_in_once(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    issued = request_token(web)
    back = consent(web, issued["oauth_token"])

    granted = form_of(exchange(web, issued, back["oauth_verifier"]))
    again = exchange(web, issued, back["oauth_verifier"])

    assert granted.keys() == {"oauth_token", "oauth_token_secret", "user_id", "screen_name"}
    assert granted["screen_name"] == "alice"
    (grant,) = sandbox.grants_for("alice")
    assert grant.refresh_token is None  # nothing to refresh
    assert (again.status_code, again.text) == (401, "Invalid request token.")


def test_a_wrong_verifier_is_refused_in_xs_words(web: httpx.Client) -> None:
    issued = request_token(web)
    consent(web, issued["oauth_token"])

    refused = exchange(web, issued, "not-the-verifier")

    assert refused.status_code == 401
    assert refused.text == "Error processing your OAuth request: Invalid oauth_verifier parameter"


def test_the_token_never_expires(web: httpx.Client) -> None:
    alice = signed_in(web)

    with time_machine.travel(datetime.now(UTC) + timedelta(days=5 * 365), tick=True):
        later = web.get(f"{API}/1.1/account/verify_credentials.json", auth=alice)

    assert later.status_code == 200, later.text
    assert (later.json()["name"], later.json()["screen_name"]) == ("Alice Martin", "alice")
    assert later.json()["id_str"] == str(later.json()["id"])


def test_a_replayed_request_and_a_stale_one_are_refused(web: httpx.Client) -> None:
    alice = signed_in(web)
    url = f"{web.base_url}{ADS}/accounts"
    with time_machine.travel(datetime.now(UTC) - timedelta(minutes=10)):
        stale = next(alice.sync_auth_flow(web.build_request("GET", url)))
    fresh = next(alice.sync_auth_flow(web.build_request("GET", url)))

    assert web.send(fresh).status_code == 200
    assert errors(web.send(fresh), 401)["code"] == 32  # the same nonce twice
    assert errors(web.send(stale), 401) == {"code": 135, "message": "Timestamp out of bounds."}


def test_a_signature_over_other_parameters_is_refused(web: httpx.Client) -> None:
    alice = signed_in(web)
    signed = next(alice.sync_auth_flow(web.build_request("GET", f"{web.base_url}{ADS}/accounts")))
    tampered = web.build_request(
        "GET", f"{web.base_url}{ADS}/accounts?count=1", headers=dict(signed.headers)
    )

    assert errors(web.send(tampered), 401)["code"] == 32


def test_accounts_come_a_page_at_a_time_with_a_cursor(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    alice = signed_in(web)
    seen: list[str] = []
    params: dict[str, str] = {"count": "4"}
    for _ in range(5):
        body = web.get(f"{ADS}/accounts", params=params, auth=alice).json()
        seen += [a["id"] for a in body["data"]]
        if body["next_cursor"] is None:
            break
        params = {"count": "4", "cursor": body["next_cursor"]}

    reachable = sandbox.reachable_account_ids("u_alice")
    assert seen == [x_id("account", n) for n in reachable]
    first = web.get(f"{ADS}/accounts", params={"count": "1"}, auth=alice).json()["data"][0]
    assert first.keys() >= {"id", "name", "timezone", "approval_status", "deleted"}
    assert "currency" not in first  # an account names none; its funding instruments do


def test_a_count_out_of_range_is_an_invalid_parameter(web: httpx.Client) -> None:
    refused = web.get(f"{ADS}/accounts", params={"count": "5000"}, auth=signed_in(web))

    error = errors(refused, 400)
    assert (error["code"], error["parameter"]) == ("INVALID_PARAMETER", "count")
    assert refused.json()["request"] == {"params": {"count": "5000"}}


def test_an_accounts_funding_instrument_names_its_currency(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    number = alices_first(sandbox)

    body = web.get(
        f"{ADS}/accounts/{x_id('account', number)}/funding_instruments", auth=signed_in(web)
    ).json()

    assert [i["currency"] for i in body["data"]] == [sandbox.accounts[number].currency]


def test_an_account_the_member_lost_is_account_not_found(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    alice = signed_in(web)
    number = alices_first(sandbox)
    sandbox.remove_access("alice", number)

    refused = web.get(f"{ADS}/accounts/{x_id('account', number)}", auth=alice)

    assert errors(refused, 403)["code"] == "ACCOUNT_NOT_FOUND"


def test_unknown_paths_answer_like_x(web: httpx.Client) -> None:
    alice = signed_in(web)

    assert errors(web.get("/x/ads/12/no_such_thing", auth=alice), 404)["code"] == "ROUTE_NOT_FOUND"
    assert errors(web.get("/x/ads/11/accounts", auth=alice), 404)["code"] == "ROUTE_NOT_FOUND"
    assert errors(web.get(f"{API}/1.1/nothing.json", auth=alice), 404) == {
        "code": 34,
        "message": "Sorry, that page does not exist.",
    }


def _day_window(sandbox: SandboxState, number: str, days: int) -> dict[str, str]:
    """The account's last `days` whole days, midnight to midnight in its zone at today's offset
    (X's rule)."""
    zone = ZoneInfo(account_timezone(sandbox.accounts[number]))
    offset = datetime.now(zone).utcoffset()
    assert offset is not None
    today = datetime.now(zone).date()
    start = datetime.combine(today - timedelta(days=days), datetime.min.time()) - offset
    end = start + timedelta(days=days)
    return {"start_time": f"{start:%Y-%m-%dT%H:%M:%S}Z", "end_time": f"{end:%Y-%m-%dT%H:%M:%S}Z"}


def test_active_entities_name_the_campaigns_and_where_they_served(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    number = alices_first(sandbox)
    account = x_id("account", number)

    body = web.get(
        f"{ADS}/stats/accounts/{account}/active_entities",
        params={"entity": "CAMPAIGN", **_day_window(sandbox, number, 7)},
        auth=signed_in(web),
    ).json()

    assert [(e["entity_id"], e["placements"]) for e in body["data"]] == [
        (c.id, list(c.placements)) for c in campaigns(sandbox.accounts[number])
    ]


def test_a_stats_job_is_queued_then_done_with_a_gzip_file_of_the_days(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    alice = signed_in(web)
    number = alices_first(sandbox)
    account, found = x_id("account", number), sandbox.accounts[number]
    ids = [c.id for c in campaigns(found)]
    query = {
        "entity": "CAMPAIGN",
        "entity_ids": ",".join(ids),
        "granularity": "DAY",
        "placement": "ALL_ON_TWITTER",
        "metric_groups": "ENGAGEMENT,BILLING,WEB_CONVERSION",
        **_day_window(sandbox, number, 3),
    }

    created = web.post(f"{ADS}/stats/jobs/accounts/{account}", params=query, auth=alice).json()
    job = created["data"]["id_str"]
    looked = web.get(f"{ADS}/stats/jobs/accounts/{account}", params={"job_ids": job}, auth=alice)

    assert (created["data"]["status"], created["data"]["url"]) == ("PROCESSING", None)
    (done,) = looked.json()["data"]
    assert (done["id_str"], done["status"], done["account_id"]) == (job, "SUCCESS", account)
    assert looked.headers["x-concurrent-job-limit"] == "100"
    download = httpx.get(done["url"], timeout=10)  # no signature: X's files need none
    assert download.headers["content-type"] == "application/gzip"
    file = json.loads(gzip.decompress(download.content))
    assert (file["time_series_length"], [d["id"] for d in file["data"]]) == (3, ids)
    metrics = file["data"][1]["id_data"][0]["metrics"]
    assert len(metrics["impressions"]) == 3
    assert metrics["conversion_site_visits"] is None


def test_every_campaign_in_every_placement_adds_up_to_the_accounts_figures(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    alice = signed_in(web)
    number = alices_first(sandbox)
    account, found = x_id("account", number), sandbox.accounts[number]
    window = _day_window(sandbox, number, 2)
    totals = [[0, 0, 0, 0], [0, 0, 0, 0]]
    for placement in ("ALL_ON_TWITTER", "PUBLISHER_NETWORK"):
        query = {
            "entity": "CAMPAIGN",
            "entity_ids": ",".join(c.id for c in campaigns(found)),
            "granularity": "DAY",
            "placement": placement,
            "metric_groups": "ENGAGEMENT,BILLING,WEB_CONVERSION",
            **window,
        }
        created = web.post(f"{ADS}/stats/jobs/accounts/{account}", params=query, auth=alice)
        job = created.json()["data"]["id_str"]
        url = web.get(
            f"{ADS}/stats/jobs/accounts/{account}", params={"job_ids": job}, auth=alice
        ).json()["data"][0]["url"]
        for entity in json.loads(gzip.decompress(httpx.get(url).content))["data"]:
            metrics = entity["id_data"][0]["metrics"]
            for n in range(2):
                totals[n][0] += (metrics["impressions"] or [0, 0])[n] or 0
                totals[n][1] += (metrics["clicks"] or [0, 0])[n] or 0
                totals[n][2] += (metrics["billed_charge_local_micro"] or [0, 0])[n] or 0
                for kind in ("conversion_purchases", "conversion_sign_ups"):
                    totals[n][3] += ((metrics[kind] or {}).get("metric") or [0, 0])[n] or 0

    zone = ZoneInfo(account_timezone(found))
    first = datetime.now(zone).date() - timedelta(days=2)
    for n in range(2):
        expected = day_metrics(found, first + timedelta(days=n))
        assert totals[n] == [
            expected["impressions"],
            expected["clicks"],
            int(Decimal(expected["spend"]) * 1_000_000),
            expected["conversions"],
        ]


def _job_query(sandbox: SandboxState, number: str, **changes: str) -> dict[str, str]:
    query = {
        "entity": "CAMPAIGN",
        "entity_ids": campaigns(sandbox.accounts[number])[0].id,
        "granularity": "DAY",
        "placement": "ALL_ON_TWITTER",
        "metric_groups": "ENGAGEMENT,BILLING",
        **_day_window(sandbox, number, 2),
    }
    return {**query, **changes}


@pytest.mark.parametrize(
    ("changes", "code", "parameter"),
    [
        ({"entity": "ACCOUNT", "metric_groups": "BILLING"}, "INVALID_PARAMETER", "entity_ids"),
        ({"entity_ids": ",".join(f"c{n}" for n in range(21))}, "INVALID_PARAMETER", "entity_ids"),
        ({"start_time": "2026-01-01T00:30:00Z"}, "INVALID_PARAMETER", "start_time"),
        ({"start_time": "2025-01-01T00:00:00Z"}, "INVALID_TIME_WINDOW", None),
        ({"granularity": "WEEK"}, "INVALID_PARAMETER", "granularity"),
        ({"placement": "EVERYWHERE"}, "INVALID_PARAMETER", "placement"),
        ({"metric_groups": ""}, "MISSING_PARAMETER", None),
    ],
)
def test_a_job_x_would_refuse_is_refused_in_xs_words(
    web: httpx.Client,
    sandbox: SandboxState,
    changes: dict[str, str],
    code: str,
    parameter: str | None,
) -> None:
    number = alices_first(sandbox)

    refused = web.post(
        f"{ADS}/stats/jobs/accounts/{x_id('account', number)}",
        params=_job_query(sandbox, number, **changes),
        auth=signed_in(web),
    )

    error = errors(refused, 400)
    assert (error["code"], error.get("parameter")) == (code, parameter)
    assert error["message"]


def test_the_account_level_has_no_billing_metrics(web: httpx.Client, sandbox: SandboxState) -> None:
    number = alices_first(sandbox)
    query = _job_query(
        sandbox,
        number,
        entity="ACCOUNT",
        entity_ids=x_id("account", number),
        metric_groups="BILLING",
    )

    refused = web.post(
        f"{ADS}/stats/jobs/accounts/{x_id('account', number)}", params=query, auth=signed_in(web)
    )

    error = errors(refused, 400)
    assert (error["code"], error["parameter"]) == ("INVALID_PARAMETER", "metric_groups")


def test_a_day_query_must_start_at_the_accounts_midnight_at_todays_offset(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    number = next(
        n
        for n in sandbox.reachable_account_ids("u_alice")
        if datetime.now(ZoneInfo(account_timezone(sandbox.accounts[n]))).utcoffset()
    )
    utc_midnight = datetime.combine(datetime.now(UTC).date(), datetime.min.time())
    query = _job_query(
        sandbox,
        number,
        start_time=f"{utc_midnight - timedelta(days=1):%Y-%m-%dT%H:%M:%S}Z",
        end_time=f"{utc_midnight:%Y-%m-%dT%H:%M:%S}Z",
    )

    refused = web.post(
        f"{ADS}/stats/jobs/accounts/{x_id('account', number)}", params=query, auth=signed_in(web)
    )

    error = errors(refused, 400)
    assert error["parameter"] == "start_time"
    assert account_timezone(sandbox.accounts[number]) in error["message"]


def test_a_slow_job_stays_processing_and_its_file_is_not_there_yet(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    alice = signed_in(web)
    number = alices_first(sandbox)
    account = x_id("account", number)
    sandbox.update_settings(report_job_seconds=3600)
    created = web.post(
        f"{ADS}/stats/jobs/accounts/{account}", params=_job_query(sandbox, number), auth=alice
    ).json()["data"]

    looked = web.get(
        f"{ADS}/stats/jobs/accounts/{account}", params={"job_ids": created["id_str"]}, auth=alice
    ).json()["data"]
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=1, seconds=5), tick=True):
        later = web.get(
            f"{ADS}/stats/jobs/accounts/{account}",
            params={"job_ids": created["id_str"]},
            auth=alice,
        ).json()["data"]

    assert [(j["status"], j["url"]) for j in looked] == [("PROCESSING", None)]
    assert later[0]["status"] == "SUCCESS"
    assert later[0]["url"]


@pytest.mark.parametrize(
    "switch", ["/users/alice/grants/revoke", "/users/alice/grants/expire", "password"]
)
def test_every_dead_token_is_89_invalid_or_expired(
    web: httpx.Client, sandbox: SandboxState, switch: str
) -> None:
    alice = signed_in(web)
    if switch == "password":
        sandbox.change_password("alice", "a-new-one")
    else:
        web.post(f"/control{switch}")

    refused = web.get(f"{ADS}/accounts", auth=alice)
    again = web.get(f"{API}/1.1/account/verify_credentials.json", auth=alice)

    expected = {"code": 89, "message": "Invalid or expired token."}
    assert errors(refused, 401) == errors(again, 401) == expected


def test_invalidate_token_revokes_the_grant(web: httpx.Client, sandbox: SandboxState) -> None:
    alice = signed_in(web)

    answered = web.post(f"{API}/1.1/oauth/invalidate_token", auth=alice)

    assert answered.status_code == 200
    assert answered.json().keys() == {"access_token"}
    assert errors(web.get(f"{ADS}/accounts", auth=alice), 401)["code"] == 89
    (grant,) = sandbox.grants_for("alice")
    assert grant.revoked_reason == "token_revoked"


def test_down_is_a_500_in_each_apis_words(web: httpx.Client) -> None:
    alice = signed_in(web)
    web.put("/control/faults", json={"down": True})

    ads = web.get(f"{ADS}/accounts", auth=alice)
    api = web.get(f"{API}/1.1/account/verify_credentials.json", auth=alice)

    assert errors(ads, 500)["code"] == "INTERNAL_ERROR"
    assert ads.json()["request"] == {"params": {}}
    assert errors(api, 500) == {"code": 131, "message": "Internal error"}


def test_throttled_is_a_429_with_xs_resets_the_accounts_too(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    alice = signed_in(web)
    account = x_id("account", alices_first(sandbox))
    web.put("/control/faults", json={"throttle_retry_after": 600})
    now = time.time()

    listed = web.get(f"{ADS}/accounts", auth=alice)
    one = web.get(f"{ADS}/accounts/{account}", auth=alice)
    api = web.get(f"{API}/1.1/account/verify_credentials.json", auth=alice)

    assert errors(listed, 429)["code"] == "TOO_MANY_REQUESTS"
    assert errors(api, 429) == {"code": 88, "message": "Rate limit exceeded"}
    assert "x-account-rate-limit-reset" not in listed.headers  # not about one account
    for answer in (listed, one, api):
        assert answer.headers["x-rate-limit-remaining"] == "0"
        assert 595 <= int(answer.headers["x-rate-limit-reset"]) - now <= 605
        assert "retry-after" not in answer.headers
    assert 595 <= int(one.headers["x-account-rate-limit-reset"]) - now <= 605


def test_a_restarted_sandbox_keeps_xs_tokens_and_their_secrets(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    issued = request_token(web)
    back = consent(web, issued["oauth_token"])
    granted = form_of(exchange(web, issued, back["oauth_verifier"]))

    restarted = SandboxState.restored(json.loads(json.dumps(sandbox.snapshot())))

    token = granted["oauth_token"]
    assert restarted.token_secret_of(token) == granted["oauth_token_secret"]
    assert restarted.user_for_access_token(token).username == "alice"
