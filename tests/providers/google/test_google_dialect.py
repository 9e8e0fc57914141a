"""The sandbox's Google dialect on its own (no Tether database): Google's consent page, token
endpoint and Google Ads API at Google's paths and in Google's shapes, with the adapter that
calls them."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fixtures.builders import consent, pkce_pair, query_of
from tether.config import Settings
from tether.providers.base import Credentials, ProviderCallError, Reason, TokenGrant
from tether.providers.google_ads import HIERARCHY_QUERY, REPORT_QUERY, GoogleAdsProvider
from tether.providers.registry import build_registry
from tether.sandbox import SandboxState
from tether.sandbox.metrics import day_metrics

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"
DEVELOPER_TOKEN = {"developer-token": "sandbox-developer-token"}


@pytest.fixture
def ads(sandbox: SandboxState, sandbox_url: str, http: httpx.AsyncClient) -> GoogleAdsProvider:
    settings = Settings(sandbox_url=sandbox_url, sandbox_stands_in_for="google_ads")
    provider = build_registry(settings, http).providers["google_ads"]
    assert isinstance(provider, GoogleAdsProvider)
    return provider


async def _grant(ads: GoogleAdsProvider, username: str = "alice") -> TokenGrant:
    """A grant made on the dialect's consent page, as a member's browser makes it."""
    verifier, _ = pkce_pair()
    url = ads.authorize_url(state="st-1", code_verifier=verifier, redirect_uri=REDIRECT_URI)
    code = query_of(await consent(url, username))["code"]
    return await ads.exchange_code(code=code, code_verifier=verifier, redirect_uri=REDIRECT_URI)


async def _credentials(ads: GoogleAdsProvider, username: str = "alice") -> Credentials:
    return Credentials(access_token=(await _grant(ads, username)).access_token)


def _headers(credentials: Credentials, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials.access_token}", **DEVELOPER_TOKEN, **extra}


def _ads_error(response: httpx.Response) -> dict[str, Any]:
    """The one error of the GoogleAdsFailure in a refusal."""
    (failure,) = response.json()["error"]["details"]
    assert failure["@type"].endswith(".errors.GoogleAdsFailure")
    (error,) = failure["errors"]
    return dict(error)


async def test_the_consent_page_asks_googles_scopes_and_posts_back_to_itself(
    ads: GoogleAdsProvider, http: httpx.AsyncClient
) -> None:
    verifier, _ = pkce_pair()
    url = ads.authorize_url(state="st-1", code_verifier=verifier, redirect_uri=REDIRECT_URI)

    page = await http.get(url)
    back = query_of(await consent(url))

    assert urlsplit(url).path.endswith("/google/accounts/o/oauth2/v2/auth")
    assert query_of(url)["access_type"] == "offline"
    assert page.status_code == 200
    assert 'action="auth"' in page.text
    assert "See, edit, create and delete your Google Ads accounts and data" in page.text
    assert back["state"] == "st-1"
    assert "https://www.googleapis.com/auth/adwords" in back["scope"].split()


async def test_denying_consent_goes_back_with_access_denied(ads: GoogleAdsProvider) -> None:
    verifier, _ = pkce_pair()
    url = ads.authorize_url(state="st-1", code_verifier=verifier, redirect_uri=REDIRECT_URI)

    back = query_of(await consent(url, decision="deny"))

    assert (back["error"], back["state"]) == ("access_denied", "st-1")


async def test_an_unknown_app_is_blocked_on_the_page_not_sent_back(
    google_url: str, http: httpx.AsyncClient
) -> None:
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": "someone-else",
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }

    page = await http.get(f"{google_url}/accounts/o/oauth2/v2/auth", params=params)

    assert page.status_code == 400
    assert "Access blocked" in page.text


async def test_a_refresh_answers_without_a_refresh_token_as_google_does(
    ads: GoogleAdsProvider, google_url: str, http: httpx.AsyncClient
) -> None:
    grant = await _grant(ads)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": grant.refresh_token,
        "client_id": "tether",
        "client_secret": "tether-sandbox-secret",
    }

    answer = await http.post(f"{google_url}/oauth2/token", data=form)

    assert answer.status_code == 200
    assert set(answer.json()) == {"access_token", "expires_in", "scope", "token_type"}
    assert answer.json()["token_type"] == "Bearer"
    assert grant.refresh_token is not None
    assert grant.expires_at is not None


@pytest.mark.parametrize("switch", ["revoke", "expire"])
async def test_a_dead_grant_is_invalid_grant_in_googles_words(
    ads: GoogleAdsProvider,
    sandbox: SandboxState,
    google_url: str,
    http: httpx.AsyncClient,
    switch: str,
) -> None:
    grant = await _grant(ads)
    sandbox.act_on_user_grants("alice", switch)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": grant.refresh_token,
        "client_id": "tether",
        "client_secret": "tether-sandbox-secret",
    }

    answer = await http.post(f"{google_url}/oauth2/token", data=form)

    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }


async def test_userinfo_names_the_user(ads: GoogleAdsProvider) -> None:
    identity = await ads.identify(await _credentials(ads, "bob"))

    assert (identity.external_user_id, identity.name, identity.email) == (
        "u_bob",
        "Bob Okafor",
        "bob@sandbox.test",
    )


async def test_revoking_at_google_ends_the_grant(
    ads: GoogleAdsProvider, sandbox: SandboxState, google_url: str, http: httpx.AsyncClient
) -> None:
    grant = await _grant(ads)
    assert grant.refresh_token is not None

    await ads.revoke(token=grant.refresh_token)
    again = await http.post(f"{google_url}/oauth2/revoke", data={"token": grant.refresh_token})

    assert sandbox.grants_for("alice")[-1].revoked_reason == "token_revoked"
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_token"


async def test_a_manager_reaches_its_clients_only_named_in_login_customer_id(
    ads: GoogleAdsProvider, sandbox: SandboxState, google_url: str, http: httpx.AsyncClient
) -> None:
    manager = sandbox.add_manager("alice", "Agency MCC", 3)
    client = manager.clients[0].id
    credentials = await _credentials(ads)
    url = f"{google_url}/ads/v21/customers/{client}/googleAds:searchStream"
    query = {"query": HIERARCHY_QUERY}
    own = sandbox.reachable_account_ids("u_alice")[0]

    alone = await http.post(url, json=query, headers=_headers(credentials))
    through = await http.post(
        url, json=query, headers=_headers(credentials, **{"login-customer-id": manager.account.id})
    )
    elsewhere = await http.post(
        url, json=query, headers=_headers(credentials, **{"login-customer-id": own})
    )

    assert (alone.status_code, alone.json()["error"]["status"]) == (403, "PERMISSION_DENIED")
    assert _ads_error(alone)["errorCode"] == {"authorizationError": "USER_PERMISSION_DENIED"}
    assert "login-customer-id" in _ads_error(alone)["message"]
    assert through.status_code == 200
    assert [r["customerClient"]["id"] for r in through.json()[0]["results"]] == [client]
    assert _ads_error(elsewhere)["errorCode"] == {
        "authorizationError": "INVALID_LOGIN_CUSTOMER_ID_SERVING_CUSTOMER_ID_COMBINATION"
    }


async def test_search_stream_answers_in_googles_rest_shape(
    ads: GoogleAdsProvider, sandbox: SandboxState, google_url: str, http: httpx.AsyncClient
) -> None:
    manager = sandbox.add_manager("alice", "Agency MCC", 2, currency="EUR")
    credentials = await _credentials(ads)
    url = f"{google_url}/ads/v21/customers/{manager.account.id}/googleAds:searchStream"

    answer = await http.post(url, json={"query": HIERARCHY_QUERY}, headers=_headers(credentials))

    (batch,) = answer.json()
    assert batch["fieldMask"] == (
        "customerClient.id,customerClient.descriptiveName,customerClient.currencyCode"
    )
    assert batch["requestId"]
    first = manager.clients[0]
    assert batch["results"][0] == {
        "customerClient": {
            "resourceName": f"customers/{manager.account.id}/customerClients/{first.id}",
            "id": first.id,  # int64 is a string in JSON
            "descriptiveName": "Agency MCC — Client 1",
            "currencyCode": "EUR",
        }
    }


async def test_listing_accounts_reaches_every_client_through_its_manager(
    ads: GoogleAdsProvider, sandbox: SandboxState
) -> None:
    manager = sandbox.add_manager("alice", "Agency MCC", 5)

    accounts = await ads.list_accounts(await _credentials(ads))

    by_id = {a.external_id: a for a in accounts}
    assert manager.account.id not in by_id  # a manager has no figures of its own
    assert {c.id for c in manager.clients} <= set(by_id)
    assert {by_id[c.id].manager_id for c in manager.clients} == {manager.account.id}
    own = sandbox.reachable_account_ids("u_alice")
    assert [by_id[i].manager_id for i in own if i in by_id] == [None] * (len(own) - 1)


async def test_a_call_without_a_developer_token_is_refused_as_the_operators_problem(
    ads: GoogleAdsProvider, google_url: str, http: httpx.AsyncClient
) -> None:
    credentials = await _credentials(ads)
    bearer = {"Authorization": f"Bearer {credentials.access_token}"}

    answer = await http.get(
        f"{google_url}/ads/v21/customers:listAccessibleCustomers", headers=bearer
    )

    assert (answer.status_code, answer.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")
    assert _ads_error(answer) == {
        "errorCode": {"requestError": "DEVELOPER_TOKEN_PARAMETER_MISSING"},
        "message": "developer-token parameter is missing.",
    }
    assert ads.classify_error(400, answer.json())[0] == Reason.UNKNOWN


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT campaign.id FROM campaign", "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"),
        ("SELECT customer.nickname FROM customer", "UNRECOGNIZED_FIELD"),
        ("SELECT segments.date, metrics.clicks FROM customer", "EXPECTED_FILTERS_ON_DATE_RANGE"),
        (
            "SELECT segments.date FROM customer WHERE segments.date DURING LAST_7_DAYS",
            "BAD_OPERATOR",
        ),
        ("SELECT customer.id FROM customer ORDER BY customer.id", "QUERY_ERROR"),
        ("SELECT customer.id FROM", "UNEXPECTED_END_OF_QUERY"),
    ],
)
async def test_queries_the_sandbox_does_not_answer_are_refused_as_google_would(
    ads: GoogleAdsProvider,
    sandbox: SandboxState,
    google_url: str,
    http: httpx.AsyncClient,
    query: str,
    code: str,
) -> None:
    credentials = await _credentials(ads)
    customer = sandbox.reachable_account_ids("u_alice")[0]
    url = f"{google_url}/ads/v21/customers/{customer}/googleAds:search"

    answer = await http.post(url, json={"query": query}, headers=_headers(credentials))

    assert (answer.status_code, answer.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")
    assert _ads_error(answer)["errorCode"] == {"queryError": code}


async def test_metrics_of_a_manager_are_refused(
    ads: GoogleAdsProvider, sandbox: SandboxState
) -> None:
    manager = sandbox.add_manager("alice", "Agency MCC", 1)
    credentials = await _credentials(ads)
    today = datetime.now(UTC).date()
    query = REPORT_QUERY.format(start=today, end=today)

    with pytest.raises(ProviderCallError) as refused:
        await ads.search(credentials, manager.account.id, query)

    assert refused.value.reason == Reason.UNKNOWN
    assert refused.value.message.startswith("Metrics cannot be requested for a manager account")


async def test_the_report_is_the_sandboxs_figures_in_micros_of_the_accounts_currency(
    ads: GoogleAdsProvider, sandbox: SandboxState
) -> None:
    manager = sandbox.add_manager("alice", "Agency MCC", 1, currency="SEK")
    client = manager.clients[0]
    today = datetime.now(UTC).date()

    days = await ads.fetch_daily(
        await _credentials(ads),
        account_id=client.id,
        start=today - timedelta(days=6),
        end=today,
        manager_id=manager.account.id,
    )

    assert [d.day for d in days] == [today - timedelta(days=n) for n in range(6, -1, -1)]
    for day in days:
        figures = day_metrics(client, day.day)
        assert (day.impressions, day.clicks, day.conversions, day.currency) == (
            figures["impressions"],
            figures["clicks"],
            figures["conversions"],
            "SEK",
        )
        assert day.spend == Decimal(figures["spend"])


async def test_days_google_leaves_out_are_loaded_as_zeros(
    ads: GoogleAdsProvider, sandbox: SandboxState
) -> None:
    sandbox.update_settings(history_days=2)  # older days answer no rows, like quiet days
    account = sandbox.reachable_account_ids("u_alice")[0]
    today = datetime.now(UTC).date()

    days = await ads.fetch_daily(
        await _credentials(ads), account_id=account, start=today - timedelta(days=4), end=today
    )

    assert [(d.day, d.impressions > 0) for d in days] == [
        (today - timedelta(days=n), n <= 2) for n in range(4, -1, -1)
    ]
    assert days[0].spend == Decimal(0)


async def test_no_day_after_today_is_reported(
    ads: GoogleAdsProvider, sandbox: SandboxState
) -> None:
    account = sandbox.reachable_account_ids("u_alice")[0]
    today = datetime.now(UTC).date()

    days = await ads.fetch_daily(
        await _credentials(ads), account_id=account, start=today, end=today + timedelta(days=3)
    )

    assert [d.day for d in days] == [today]


@pytest.mark.parametrize(
    ("faults", "reason", "message", "wait"),
    [
        (
            {"throttle_retry_after": 45},
            Reason.RATE_LIMITED,
            "Too many requests. Retry in 45 seconds.",
            45,
        ),
        ({"down": True}, Reason.PROVIDER_OUTAGE, "The service is currently unavailable.", None),
    ],
)
async def test_faults_answer_as_google_does(
    ads: GoogleAdsProvider,
    sandbox: SandboxState,
    faults: dict[str, Any],
    reason: Reason,
    message: str,
    wait: float | None,
) -> None:
    credentials = await _credentials(ads)
    sandbox.set_faults(**faults)

    with pytest.raises(ProviderCallError) as failed:
        await ads.probe(credentials)

    assert (failed.value.reason, failed.value.message, failed.value.retry_after) == (
        reason,
        message,
        wait,
    )


@pytest.mark.parametrize(
    ("act", "reason", "message"),
    [
        (
            lambda s: s.act_on_user_grants("alice", "expire-access"),
            Reason.TOKEN_EXPIRED,
            "OAuth token in the header has expired.",
        ),
        (
            lambda s: s.act_on_user_grants("alice", "revoke"),
            Reason.TOKEN_REVOKED,
            "OAuth token in the header has been revoked.",
        ),
        (
            lambda s: s.change_password("alice", "new-password"),
            Reason.TOKEN_REVOKED,
            "OAuth token in the header has been revoked.",
        ),
    ],
)
async def test_a_token_google_no_longer_takes_says_why(
    ads: GoogleAdsProvider, sandbox: SandboxState, act: Any, reason: Reason, message: str
) -> None:
    credentials = await _credentials(ads)
    act(sandbox)

    with pytest.raises(ProviderCallError) as failed:
        await ads.probe(credentials)

    assert (failed.value.reason, failed.value.message, failed.value.status) == (
        reason,
        message,
        401,
    )


async def test_removing_access_to_the_manager_cuts_every_client_under_it(
    ads: GoogleAdsProvider, sandbox: SandboxState
) -> None:
    manager = sandbox.add_manager("alice", "Agency MCC", 3)
    credentials = await _credentials(ads)
    sandbox.remove_access("alice", manager.account.id)
    today = datetime.now(UTC).date()

    listed = {a.external_id for a in await ads.list_accounts(credentials)}
    with pytest.raises(ProviderCallError) as refused:
        await ads.fetch_daily(
            credentials,
            account_id=manager.clients[1].id,
            start=today,
            end=today,
            manager_id=manager.account.id,
        )

    assert listed.isdisjoint({c.id for c in manager.clients})
    assert refused.value.reason == Reason.ACCESS_REMOVED
    assert refused.value.message.startswith("User doesn't have permission to access customer.")


async def test_the_control_api_makes_a_manager_over_new_clients(
    sandbox_url: str, sandbox: SandboxState, http: httpx.AsyncClient
) -> None:
    made = await http.post(
        f"{sandbox_url}/control/google/managers",
        json={"username": "carol", "name": "Carol's MCC", "clients": 4, "currency": "GBP"},
    )

    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["name"], body["currency"], len(body["clients"])) == ("Carol's MCC", "GBP", 4)
    assert body["id"] in sandbox.reachable_account_ids("u_carol")
    assert all(c["id"] not in sandbox.reachable_account_ids("u_carol") for c in body["clients"])


async def test_unknown_paths_answer_in_googles_shape(
    google_url: str, http: httpx.AsyncClient
) -> None:
    answer = await http.get(f"{google_url}/ads/v21/nothing-here")

    assert answer.status_code == 404
    assert answer.json()["error"]["status"] == "NOT_FOUND"


def test_dates_in_the_report_query_are_written_as_gaql_wants() -> None:
    query = REPORT_QUERY.format(start=date(2025, 1, 1), end=date(2025, 1, 31))

    assert query.endswith("WHERE segments.date BETWEEN '2025-01-01' AND '2025-01-31'")
