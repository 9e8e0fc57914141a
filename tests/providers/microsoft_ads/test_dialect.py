"""The sandbox's Microsoft dialect in Microsoft's own shapes: the identity platform's consent
page and token endpoint (AADSTS errors, rotating refresh tokens that end after 90 days unused),
the Customer Management service's GetUser and SearchAccounts, the Reporting service's reports to
submit, poll and download, and every switch in Microsoft's faults."""

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine

from tests.fixtures.builders import pkce_pair
from tether.sandbox import SandboxState
from tether.sandbox.dialects.microsoft_api import customer_id, user_id
from tether.sandbox.metrics import day_metrics

LOGIN = "/microsoft/login/common/oauth2/v2.0"
CUSTOMERS = "/microsoft/clientcenter/CustomerManagement/v13"
REPORTING = "/microsoft/reporting/Reporting/v13"
APP = {"client_id": "tether", "client_secret": "tether-sandbox-secret"}
REDIRECT = "http://127.0.0.1:9/cb"
SCOPE = "https://ads.microsoft.com/msads.manage offline_access"
DEVELOPER = {"DeveloperToken": "sandbox-developer-token"}


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
    page = web.get(f"{LOGIN}/authorize", params=query)
    assert page.status_code == 200, page.text
    form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
    form |= {"username": "alice", "password": "alice-password", "decision": decision}
    return web.post(f"{LOGIN}/authorize", data=form)


def answer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def token(web: httpx.Client, scope: str = SCOPE) -> httpx.Response:
    verifier, challenge = pkce_pair()
    code = answer(consent(web, scope=scope, code_challenge=challenge, code_challenge_method="S256"))
    form = {
        "grant_type": "authorization_code",
        "code": code["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        "scope": scope,
    }
    return web.post(f"{LOGIN}/token", data=form | APP)


def refresh(web: httpx.Client, refresh_token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": SCOPE}
    return web.post(f"{LOGIN}/token", data=form | APP)


def entra(response: httpx.Response) -> tuple[int, str, int, str]:
    """An identity platform refusal: status, error, its AADSTS code, and the words after it."""
    body: dict[str, Any] = response.json()
    assert {"error", "error_description", "error_codes", "trace_id", "correlation_id"} <= set(body)
    code = body["error_codes"][0]
    first_line = body["error_description"].split("\r\n")[0]
    assert first_line.startswith(f"AADSTS{code}: ")
    assert "Trace ID: " in body["error_description"]
    return response.status_code, body["error"], code, first_line.removeprefix(f"AADSTS{code}: ")


def fault(response: httpx.Response) -> tuple[int, int, str | None, str]:
    """A Microsoft Advertising fault: status, code, symbolic code (if any), message."""
    body: dict[str, Any] = response.json()
    assert body["TrackingId"] == response.headers["trackingid"]
    errors = body.get("Errors") or body.get("OperationErrors")
    assert body["Type"] in ("AdApiFaultDetail", "ApiFault", "ApiFaultDetail")
    (error,) = errors
    return response.status_code, error["Code"], error.get("ErrorCode"), error["Message"]


def signed_in(web: httpx.Client) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(web).json()['access_token']}", **DEVELOPER}


def get_user(web: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    return web.post(f"{CUSTOMERS}/User/Query", headers=headers, json={"UserId": None})


def test_the_consent_page_names_the_permissions_and_sends_the_code_back(
    web: httpx.Client,
) -> None:
    page = web.get(
        f"{LOGIN}/authorize",
        params={"client_id": "tether", "redirect_uri": REDIRECT, "response_type": "code",
                "scope": SCOPE},
    )  # fmt: skip

    assert "Access your Microsoft Advertising accounts" in page.text
    assert "Maintain access to data you have given it access to" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert set(answer(consent(web))) == {"code", "state"}


def test_a_person_who_cancels_is_sent_back_with_access_denied(web: httpx.Client) -> None:
    declined = answer(consent(web, decision="deny"))

    assert declined["error"] == "access_denied"
    assert declined["error_description"].startswith("AADSTS65004: User declined to consent")
    assert "code" not in declined


def test_an_unknown_app_gets_an_error_page_and_no_redirect(web: httpx.Client) -> None:
    page = web.get(f"{LOGIN}/authorize", params={"client_id": "nope", "redirect_uri": REDIRECT})

    assert page.status_code == 400
    assert "AADSTS700016: Application with identifier &#39;nope&#39; was not found" in page.text
    assert "location" not in page.headers


@pytest.mark.parametrize(
    ("extra", "error", "code"),
    [
        ({"scope": "https://ads.microsoft.com/msads.fly"}, "invalid_scope", "AADSTS70011"),
        ({"prompt": "none"}, "login_required", "AADSTS50058"),
        ({"response_type": "token"}, "unsupported_response_type", "AADSTS70005"),
    ],
)
def test_a_request_microsoft_refuses_is_sent_back_with_its_aadsts_code(
    web: httpx.Client, extra: dict[str, str], error: str, code: str
) -> None:
    query = {"client_id": "tether", "redirect_uri": REDIRECT, "response_type": "code"}

    sent_back = answer(web.get(f"{LOGIN}/authorize", params=query | {"scope": SCOPE} | extra))

    assert sent_back["error"] == error
    assert sent_back["error_description"].startswith(code)


def test_the_code_gives_an_hour_long_token_and_a_refresh_token_without_a_lifetime(
    web: httpx.Client,
) -> None:
    body = token(web).json()

    assert body.keys() == {
        "token_type",
        "scope",
        "expires_in",
        "ext_expires_in",
        "access_token",
        "refresh_token",
    }
    assert (body["token_type"], body["scope"]) == (
        "Bearer",
        "https://ads.microsoft.com/msads.manage",
    )
    assert body["expires_in"] == body["ext_expires_in"] == 3600


def test_without_offline_access_there_is_no_refresh_token(web: httpx.Client) -> None:
    body = token(web, scope="https://ads.microsoft.com/msads.manage").json()

    assert "refresh_token" not in body
    assert body["access_token"]


def test_every_refresh_hands_out_a_new_refresh_token_and_moves_the_90_day_idle_end(
    web: httpx.Client,
) -> None:
    first = token(web).json()
    start = datetime.now(UTC)

    with time_machine.travel(start + timedelta(days=80), tick=True):
        second = refresh(web, first["refresh_token"]).json()
    # 160 days after consent, and 80 after the last refresh: the grant lives on.
    with time_machine.travel(start + timedelta(days=160), tick=True):
        third = refresh(web, second["refresh_token"])
    with time_machine.travel(start + timedelta(days=160 + 91), tick=True):
        idle = refresh(web, third.json()["refresh_token"])

    assert (
        len({first["refresh_token"], second["refresh_token"], third.json()["refresh_token"]}) == 3
    )
    assert "refresh_token_expires_in" not in second
    status, error, code, words = entra(idle)
    assert (status, error, code) == (400, "invalid_grant", 700082)
    assert words.startswith("The refresh token has expired due to inactivity.")


def test_every_token_request_needs_its_scope(web: httpx.Client) -> None:
    first = token(web).json()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}

    refused = web.post(f"{LOGIN}/token", data=form | APP)

    assert entra(refused) == (
        400,
        "invalid_request",
        900144,
        "The request body must contain the following parameter: 'scope'.",
    )


def test_the_app_is_refused_in_the_identity_platforms_words(web: httpx.Client) -> None:
    first = token(web).json()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": SCOPE}

    wrong = web.post(f"{LOGIN}/token", data=form | APP | {"client_secret": "nope"})
    unknown = web.post(f"{LOGIN}/token", data=form | {"client_id": "who", "client_secret": "x"})

    assert entra(wrong)[:3] == (401, "invalid_client", 7000215)
    assert entra(unknown)[:3] == (400, "unauthorized_client", 700016)


def test_a_code_used_twice_or_with_the_wrong_verifier_is_refused(web: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    code = answer(consent(web, code_challenge=challenge, code_challenge_method="S256"))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    form |= {"scope": SCOPE} | APP

    wrong = web.post(f"{LOGIN}/token", data=form | {"code_verifier": "x" * 43})
    again = web.post(f"{LOGIN}/token", data=form | {"code_verifier": verifier})

    assert entra(wrong)[:3] == (400, "invalid_grant", 501481)
    assert entra(again)[:3] == (400, "invalid_grant", 54005)


@pytest.mark.parametrize(
    ("switch", "code", "words"),
    [
        ("revoke", 65001, "The user or administrator has not consented to use the application"),
        ("password", 50173, "The user might have changed or reset their password."),
        ("expire", 700082, "The refresh token has expired due to inactivity."),
    ],
)
def test_a_dead_grants_token_is_109_and_its_refresh_says_why(
    web: httpx.Client, sandbox: SandboxState, switch: str, code: int, words: str
) -> None:
    first = token(web).json()
    if switch == "password":
        sandbox.change_password("alice", "a-new-password")
    else:
        sandbox.act_on_user_grants("alice", switch)

    probed = get_user(web, {"Authorization": f"Bearer {first['access_token']}", **DEVELOPER})
    refused = refresh(web, first["refresh_token"])

    assert fault(probed) == (
        401,
        109,
        "AuthenticationTokenExpired",
        "Authentication token expired. Please renew it or obtain a new token.",
    )
    status, error, said, description = entra(refused)
    assert (status, error, said) == (400, "invalid_grant", code)
    assert words in description


def test_a_token_microsoft_never_issued_is_invalid_credentials(web: httpx.Client) -> None:
    refused = get_user(web, {"Authorization": "Bearer sbx_at_forged", **DEVELOPER})

    assert fault(refused) == (
        401,
        105,
        "InvalidCredentials",
        "Authentication failed. Either supplied credentials are invalid or the account is inactive",
    )


def test_get_user_answers_the_signed_in_user_and_a_role_per_customer(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    body = get_user(web, signed_in(web)).json()

    alice = sandbox.user("alice")
    assert body["User"]["Id"] == user_id(alice)
    assert body["User"]["Name"] == {
        "FirstName": "Alice",
        "LastName": "Martin",
        "MiddleInitial": None,
    }
    assert body["User"]["ContactInfo"]["Email"] == "alice@sandbox.test"
    customers = {customer_id(sandbox.accounts[n]) for n in sandbox.reachable_account_ids(alice.id)}
    assert {role["CustomerId"] for role in body["CustomerRoles"]} == customers
    assert all(isinstance(role["CustomerId"], str) for role in body["CustomerRoles"])


def test_a_call_without_the_developer_token_misses_a_header(web: httpx.Client) -> None:
    headers = signed_in(web)
    del headers["DeveloperToken"]

    assert fault(get_user(web, headers))[:3] == (400, 116, "RequestMissingHeaders")


def search(web: httpx.Client, headers: dict[str, str], value: str, **page: int) -> httpx.Response:
    body = {
        "Predicates": [{"Field": "UserId", "Operator": "Equals", "Value": value}],
        "PageInfo": {"Index": 0, "Size": 1000} | page,
    }
    return web.post(f"{CUSTOMERS}/Accounts/Search", headers=headers, json=body)


def test_search_accounts_pages_the_users_accounts_with_their_customer(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    headers = signed_in(web)
    me = user_id(sandbox.user("alice"))

    first = search(web, headers, me, Size=5).json()["Accounts"]
    second = search(web, headers, me, Index=1, Size=5).json()["Accounts"]

    assert [a["Id"] for a in first + second] == sandbox.reachable_account_ids("u_alice")
    account = sandbox.accounts[first[0]["Id"]]
    assert (first[0]["Name"], first[0]["CurrencyCode"], first[0]["ParentCustomerId"]) == (
        account.name,
        account.currency,
        customer_id(account),
    )
    assert search(web, headers, user_id(sandbox.user("bob"))).json() == {"Accounts": []}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"PageInfo": {"Index": 0, "Size": 10}}, 474, "Required search predicate is missing."),
        (
            {
                "Predicates": [{"Field": "UserId", "Operator": "Contains", "Value": "12345"}],
                "PageInfo": {"Index": 0, "Size": 10},
            },
            3030,
            "The Predicate passed in the search is invalid.",
        ),
        (
            {"Predicates": [{"Field": "UserId", "Operator": "Equals", "Value": "12345"}]},
            3080,
            "Page Info must be present and have index greater than 0 (zero).",
        ),
        (
            {
                "Predicates": [{"Field": "UserId", "Operator": "Equals", "Value": "12345"}],
                "PageInfo": {"Index": 0, "Size": 1001},
            },
            3024,
            "The batch size exceeds the limit.",
        ),
    ],
)
def test_a_search_microsoft_refuses_is_an_api_fault(
    web: httpx.Client, body: dict[str, Any], code: int, message: str
) -> None:
    refused = web.post(f"{CUSTOMERS}/Accounts/Search", headers=signed_in(web), json=body)

    assert fault(refused) == (400, code, None, message)
    assert refused.json()["Type"] == "ApiFault"


def report_body(account_id: str, start: date, end: date, **more: Any) -> dict[str, Any]:
    def day(d: date) -> dict[str, int]:
        return {"Day": d.day, "Month": d.month, "Year": d.year}

    return {
        "ReportRequest": {
            "Type": "AccountPerformanceReportRequest",
            "Format": "Csv",
            "Aggregation": "Daily",
            "Columns": ["TimePeriod", "AccountId", "Impressions", "Clicks", "Spend", "Conversions"],
            "Scope": {"AccountIds": [account_id]},
            "Time": {
                "CustomDateRangeStart": day(start),
                "CustomDateRangeEnd": day(end),
                "ReportTimeZone": "GreenwichMeanTimeDublinEdinburghLisbonLondon",
            },
            **more,
        }
    }


def report_headers(web: httpx.Client, sandbox: SandboxState, account_id: str) -> dict[str, str]:
    customer = customer_id(sandbox.accounts[account_id])
    return signed_in(web) | {"CustomerAccountId": account_id, "CustomerId": customer}


def submit(web: httpx.Client, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return web.post(f"{REPORTING}/GenerateReport/Submit", headers=headers, json=body)


def poll(web: httpx.Client, headers: dict[str, str], report_id: str) -> dict[str, Any]:
    polled = web.post(
        f"{REPORTING}/GenerateReport/Poll", headers=headers, json={"ReportRequestId": report_id}
    )
    assert polled.status_code == 200, polled.text
    status: dict[str, Any] = polled.json()["ReportRequestStatus"]
    return status


def unzipped(web: httpx.Client, url: str) -> list[list[str]]:
    # The download URL is signed: no Authorization, no developer token.
    got = web.get(url)
    assert got.status_code == 200, got.text
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        (member,) = archive.namelist()
        text = archive.read(member).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(text.removeprefix("\ufeff").splitlines()))


def today() -> date:
    return datetime.now(UTC).date()


def test_a_report_is_submitted_polled_and_downloaded_with_a_row_per_day(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    headers = report_headers(web, sandbox, account_id)
    start = today() - timedelta(days=2)
    body = report_body(account_id, start, today(), ExcludeReportHeader=True)
    body["ReportRequest"]["ExcludeReportFooter"] = True

    report_id = submit(web, headers, body).json()["ReportRequestId"]
    ready = poll(web, headers, report_id)
    rows = unzipped(web, ready["ReportDownloadUrl"])

    assert ready["Status"] == "Success"
    assert rows[0] == ["TimePeriod", "AccountId", "Impressions", "Clicks", "Spend", "Conversions"]
    expected = day_metrics(sandbox.accounts[account_id], start)
    assert rows[1] == [
        start.isoformat(),
        account_id,
        str(expected["impressions"]),
        str(expected["clicks"]),
        expected["spend"],
        str(expected["conversions"]),
    ]
    assert [r[0] for r in rows[1:]] == [(start + timedelta(days=n)).isoformat() for n in range(3)]


def test_a_report_keeps_its_header_and_footer_unless_asked_not_to(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    headers = report_headers(web, sandbox, account_id)

    report_id = submit(web, headers, report_body(account_id, today(), today())).json()
    rows = unzipped(web, poll(web, headers, report_id["ReportRequestId"])["ReportDownloadUrl"])

    assert rows[0][0].startswith("Report Name: ")
    assert ["Report Aggregation: Daily"] in rows
    assert ["Rows: 1"] in rows
    assert rows[-1][0].startswith("©")
    assert "Microsoft Corporation" in rows[-1][0]


def test_a_report_stays_pending_as_long_as_the_sandbox_says(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    sandbox.update_settings(report_pending_polls=2)
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    headers = report_headers(web, sandbox, account_id)

    report_id = submit(web, headers, report_body(account_id, today(), today())).json()
    polls = [poll(web, headers, report_id["ReportRequestId"]) for _ in range(3)]

    assert [p["Status"] for p in polls] == ["Pending", "Pending", "Success"]
    assert polls[0]["ReportDownloadUrl"] is None
    assert polls[2]["ReportDownloadUrl"]


def test_a_report_without_rows_succeeds_without_a_url(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    headers = report_headers(web, sandbox, account_id)
    long_ago = today() - timedelta(days=2000)  # far past the 36 months kept

    report_id = submit(web, headers, report_body(account_id, long_ago, long_ago)).json()

    assert poll(web, headers, report_id["ReportRequestId"]) == {
        "ReportDownloadUrl": None,
        "Status": "Success",
    }


def test_a_download_url_is_signed_and_lasts_five_minutes(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    headers = report_headers(web, sandbox, account_id)
    report_id = submit(web, headers, report_body(account_id, today(), today())).json()
    url = httpx.URL(poll(web, headers, report_id["ReportRequestId"])["ReportDownloadUrl"])

    forged = web.get(url.copy_set_param("sig", "forged"))
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=6), tick=True):
        late = web.get(url)

    for refused in (forged, late):
        assert refused.status_code == 403
        assert "<Code>AuthenticationFailed</Code>" in refused.text


def test_a_report_of_an_account_the_user_lost_is_106(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    headers = report_headers(web, sandbox, account_id)
    sandbox.remove_access("alice", account_id)

    refused = submit(web, headers, report_body(account_id, today(), today()))

    assert fault(refused) == (
        403,
        106,
        "UserIsNotAuthorized",
        "The user is not authorized to perform this action.",
    )


@pytest.mark.parametrize(
    ("change", "days", "code", "error_code"),
    [
        ({"Aggregation": "Weekly"}, (0, 0), 2007, "ReportingServiceInvalidReportAggregation"),
        (
            {"Type": "KeywordPerformanceReportRequest"},
            (0, 0),
            2002,
            "ReportingServiceUnknownReportType",
        ),
        ({"Columns": ["Impressions"]}, (0, 0), 2015, "ReportingServiceRequiredColumnsNotSelected"),
        ({"Columns": ["TimePeriod", "Mood"]}, (0, 0), 201, "ApiInputValidationError"),
        ({"Scope": {"AccountIds": ["424242"]}}, (0, 0), 2035, "ReportingServiceInvalidAccountIds"),
        ({}, (0, 1), 2010, "ReportingServiceInvalidCustomDateRangeEnd"),
        ({}, (2, 3), 2041, "ReportingServiceInvalidFutureStartDate"),
        ({}, (-1, -3), 2011, "ReportingServiceEndDateBeforeStartDate"),
    ],
)
def test_a_report_request_microsoft_refuses_is_an_api_fault_detail(
    web: httpx.Client,
    sandbox: SandboxState,
    change: dict[str, Any],
    days: tuple[int, int],
    code: int,
    error_code: str,
) -> None:
    account_id = sandbox.reachable_account_ids("u_alice")[0]
    start, end = (today() + timedelta(days=n) for n in days)
    body = report_body(account_id, start, end)
    body["ReportRequest"] |= change

    refused = submit(web, report_headers(web, sandbox, account_id), body)

    assert fault(refused)[:3] == (400, code, error_code)
    assert refused.json()["Type"] == "ApiFaultDetail"


def test_reporting_calls_need_the_account_and_customer_headers(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    account_id = sandbox.reachable_account_ids("u_alice")[0]

    refused = submit(web, signed_in(web), report_body(account_id, today(), today()))

    assert fault(refused)[:3] == (400, 116, "RequestMissingHeaders")


def test_a_throttle_is_117_and_names_no_wait_while_the_token_endpoint_sends_retry_after(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    first = token(web).json()
    headers = {"Authorization": f"Bearer {first['access_token']}", **DEVELOPER}
    sandbox.set_faults(throttle_retry_after=300)

    throttled = get_user(web, headers)
    at_login = refresh(web, first["refresh_token"])

    assert fault(throttled) == (
        429,
        117,
        "CallRateExceeded",
        "You have exceeded the number of calls that you are allowed to make in a minute. Please "
        "reduce the number of calls that you make per minute.",
    )
    assert "retry-after" not in throttled.headers
    assert entra(at_login)[:3] == (429, "temporarily_unavailable", 90055)
    assert at_login.headers["retry-after"] == "300"


def test_down_is_the_internal_error_and_the_token_endpoint_is_temporarily_unavailable(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    first = token(web).json()
    sandbox.set_faults(down=True)

    down = get_user(web, {"Authorization": f"Bearer {first['access_token']}", **DEVELOPER})

    assert fault(down) == (500, 0, "InternalError", "An internal error has occurred.")
    assert entra(refresh(web, first["refresh_token"]))[:3] == (
        503,
        "temporarily_unavailable",
        90006,
    )


def test_an_unknown_path_answers_as_the_web_api_does(web: httpx.Client) -> None:
    missing = web.post(f"{CUSTOMERS}/Nothing/Query", json={})

    assert missing.status_code == 404
    assert missing.json()["Message"].startswith("No HTTP resource was found that matches")
