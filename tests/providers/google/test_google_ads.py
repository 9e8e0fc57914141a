"""Google Ads end to end: Tether connects, discovers, checks, loads and revokes over real HTTP
against the sandbox's Google dialect, and calls Google itself when set up for production."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import time_machine
from sqlalchemy import update

from tests.fixtures.builders import Org, query_of, sign_in_through
from tests.fixtures.running import Tether
from tether.config import ProviderSettings, Settings
from tether.db import utcnow
from tether.models import Authorization, Connection, MetricDay
from tether.providers.base import Credentials
from tether.providers.google_ads import GOOGLE_ADS
from tether.providers.registry import build_registry
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import SandboxAccount


@dataclass
class Signed:
    """A Google Ads authorization made through Google's consent page, and its accounts."""

    org: Org
    tether: Tether
    id: str
    accounts: list[dict[str, Any]]

    def account(self, external_id: str) -> dict[str, Any]:
        return next(a for a in self.accounts if a["external_id"] == external_id)

    async def check(self) -> dict[str, Any]:
        response = await self.org.api.post(f"/api/v1/authorizations/{self.id}/check")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def connect(self, external_id: str, client: str | None = None) -> str:
        """A client's connection to one of the accounts; returns the connection's id."""
        made = await self.org.client(client)
        body = {"client_id": made["id"], "account_id": self.account(external_id)["id"]}
        response = await self.org.api.post("/api/v1/connections", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def sync(self, connection_id: str) -> dict[str, Any]:
        return dict(await self.tether.sync(self.org.api, connection_id))

    async def connections(self) -> dict[str, dict[str, Any]]:
        rows = (await self.org.api.get("/api/v1/connections", params={"limit": 200})).json()
        return {row["account_external_id"]: row for row in rows["data"]}


async def _signed(org: Org, tether: Tether) -> Signed:
    """Alice signs in with Google and Tether lists what her grant reaches."""
    authorization_id = await sign_in_through(
        org.api, "/api/v1/authorizations/oauth/start", {"provider": "google_ads"}
    )
    listed = await org.api.get(
        f"/api/v1/authorizations/{authorization_id}/accounts", params={"limit": 200}
    )
    assert listed.status_code == 200, listed.text
    return Signed(org, tether, authorization_id, list(listed.json()["data"]))


async def _manager(tether: Tether, clients: int, username: str = "alice") -> dict[str, Any]:
    made = await tether.sandbox(
        "POST",
        "/google/managers",
        json={"username": username, "name": "Agency MCC", "clients": clients},
    )
    return dict(made)


async def _stored(tether: Tether, authorization_id: str) -> Authorization:
    async with tether.sessions() as session:
        found = await session.get(Authorization, uuid.UUID(authorization_id))
    assert found is not None
    return found


async def test_connecting_goes_through_googles_consent_and_finds_alices_accounts(
    org: Org, tether: Tether
) -> None:
    started = await org.api.post(
        "/api/v1/authorizations/oauth/start", json={"provider": "google_ads"}
    )
    asked = query_of(started.json()["authorize_url"])
    signed = await _signed(org, tether)

    assert urlsplit(started.json()["authorize_url"]).path == (
        "/sandbox/google/accounts/o/oauth2/v2/auth"
    )
    assert "https://www.googleapis.com/auth/adwords" in asked["scope"].split()
    assert (asked["access_type"], asked["code_challenge_method"]) == ("offline", "S256")
    authorization = (await org.api.get(f"/api/v1/authorizations/{signed.id}")).json()
    assert (authorization["provider"], authorization["status"]) == ("google_ads", "active")
    assert authorization["external_user_name"] == "Alice Martin"
    alices = (await tether.sandbox("GET", "/users/alice"))["accounts"]
    assert sorted(a["external_id"] for a in signed.accounts) == sorted(alices)
    assert {a["manager_external_id"] for a in signed.accounts} == {None}


async def test_one_manager_sign_in_reaches_all_50_clients_through_the_manager(
    org: Org, tether: Tether
) -> None:
    manager = await _manager(tether, 50)

    signed = await _signed(org, tether)

    clients = {c["id"] for c in manager["clients"]}
    found = {a["external_id"]: a for a in signed.accounts}
    assert clients <= set(found)
    assert {found[c]["manager_external_id"] for c in clients} == {manager["id"]}
    assert {found[c]["currency"] for c in clients} == {"USD"}
    assert manager["id"] not in found  # a manager has no figures of its own
    assert len(found) == 50 + len((await tether.sandbox("GET", "/users/alice"))["accounts"]) - 1


async def test_a_client_under_the_manager_loads_its_last_90_days(org: Org, tether: Tether) -> None:
    manager = await _manager(tether, 50)
    signed = await _signed(org, tether)
    client = manager["clients"][17]
    connection_id = await signed.connect(client["id"])

    loaded = await signed.sync(connection_id)

    assert (loaded["outcome"], loaded["days_loaded"]) == ("synced", 90), loaded
    coverage = (await org.api.get("/api/v1/coverage")).json()["data"]
    assert [(row["days_loaded"], row["missing"]) for row in coverage] == [(90, [])]
    yesterday = utcnow().date() - timedelta(days=1)
    async with tether.sessions() as session:
        stored = await session.get(MetricDay, (uuid.UUID(connection_id), yesterday))
    assert stored is not None
    figures = day_metrics(SandboxAccount(client["id"], client["name"], "USD"), yesterday)
    assert (stored.impressions, stored.clicks, stored.conversions, stored.currency) == (
        figures["impressions"],
        figures["clicks"],
        figures["conversions"],
        "USD",
    )
    assert str(stored.spend.normalize()) == str(type(stored.spend)(figures["spend"]).normalize())


async def test_each_daily_load_reloads_the_restatement_window(org: Org, tether: Tether) -> None:
    signed = await _signed(org, tether)
    connection_id = await signed.connect(signed.accounts[0]["external_id"])
    assert (await signed.sync(connection_id))["days_loaded"] == 90
    yesterday = utcnow().date() - timedelta(days=1)
    async with tether.sessions() as session:
        await session.execute(
            update(MetricDay)
            .where(MetricDay.connection_id == uuid.UUID(connection_id), MetricDay.day == yesterday)
            .values(impressions=-1)
        )
        await session.commit()

    with time_machine.travel(utcnow() + timedelta(days=1), tick=True):
        await signed.check()  # the health engine refreshes the day-old token first
        daily = await signed.sync(connection_id)

        assert (daily["outcome"], daily["days_loaded"]) == ("synced", 30), daily
        async with tether.sessions() as session:
            restated = await session.get(MetricDay, (uuid.UUID(connection_id), yesterday))
        assert restated is not None
        assert restated.impressions > 0


SWITCHES = {
    # Google says the same of an expired and of a revoked refresh token (research, G1).
    "expire": (
        ("POST", "/users/alice/grants/expire", None),
        "token_revoked",
        "Token has been expired or revoked.",
    ),
    "revoke": (
        ("POST", "/users/alice/grants/revoke", None),
        "token_revoked",
        "OAuth token in the header has been revoked.",
    ),
    # Google does not say that a password change killed the grant.
    "password": (
        ("POST", "/users/alice/password", {"password": "another-password"}),
        "token_revoked",
        "OAuth token in the header has been revoked.",
    ),
}


@pytest.mark.parametrize("switch", list(SWITCHES))
async def test_a_lapse_at_google_needs_a_reconnect_with_googles_words(
    org: Org, tether: Tether, switch: str
) -> None:
    signed = await _signed(org, tether)
    external_id = signed.accounts[0]["external_id"]
    await signed.connect(external_id)
    (method, path, body), reason, message = SWITCHES[switch]
    await tether.sandbox(method, path, json=body)

    checked = await signed.check()

    assert (checked["status"], checked["reason"], checked["message"]) == (
        "needs_reconnect",
        reason,
        message,
    )
    connection = (await signed.connections())[external_id]
    assert connection["status"] == "needs_reconnect"


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ({"down": True}, "The service is currently unavailable."),
        ({"slow_ms": 2500}, "Google Ads did not answer in time."),
    ],
)
async def test_an_outage_at_google_is_failing_not_a_lapse(
    org: Org, tether: Tether, faults: dict[str, Any], message: str
) -> None:
    signed = await _signed(org, tether)
    external_id = signed.accounts[0]["external_id"]
    await signed.connect(external_id)
    await tether.sandbox("PUT", "/faults", json=faults)

    checked = await signed.check()

    assert (checked["status"], checked["reason"], checked["message"]) == (
        "failing",
        "provider_outage",
        message,
    )
    assert (await signed.connections())[external_id]["status"] == "failing"


async def test_a_throttle_backs_off_at_least_as_long_as_google_asks(
    org: Org, tether: Tether
) -> None:
    signed = await _signed(org, tether)
    connection_id = await signed.connect(signed.accounts[0]["external_id"])
    await tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 900})

    checked = await signed.check()
    loaded = await signed.sync(connection_id)

    assert (checked["status"], checked["reason"], checked["message"]) == (
        "failing",
        "rate_limited",
        "Too many requests. Retry in 900 seconds.",
    )
    stored = await _stored(tether, signed.id)
    assert stored.next_check_at is not None
    assert (stored.next_check_at - utcnow()).total_seconds() >= 895
    assert (loaded["outcome"], loaded["reason"]) == ("failed", "rate_limited")
    async with tether.sessions() as session:
        connection = await session.get(Connection, uuid.UUID(connection_id))
    assert connection is not None
    assert connection.next_sync_at is not None
    assert (connection.next_sync_at - utcnow()).total_seconds() >= 895


async def test_losing_the_manager_lapses_every_client_and_one_reconnect_restores_them(
    org: Org, tether: Tether
) -> None:
    manager = await _manager(tether, 50)
    signed = await _signed(org, tether)
    clients = [c["id"] for c in manager["clients"][:3]]
    connections = [await signed.connect(c) for c in clients]
    await tether.sandbox("DELETE", f"/users/alice/accounts/{manager['id']}")

    loaded = await signed.sync(connections[0])  # the report is refused first
    await signed.check()  # then the listing no longer holds the clients

    assert (loaded["outcome"], loaded["reason"]) == ("failed", "access_removed")
    rows = await signed.connections()
    assert [rows[c]["status"] for c in clients] == ["needs_reconnect"] * 3
    assert rows[clients[0]]["message"].startswith(
        "User doesn't have permission to access customer."
    )
    assert {rows[c]["reason"] for c in clients} == {"access_removed"}

    await tether.sandbox("PUT", f"/users/alice/accounts/{manager['id']}")
    again = await sign_in_through(org.api, f"/api/v1/authorizations/{signed.id}/reconnect")

    assert again == signed.id
    rows = await signed.connections()
    assert [rows[c]["status"] for c in clients] == ["active"] * 3
    assert (await signed.sync(connections[1]))["outcome"] == "synced"


async def test_an_expired_access_token_is_refreshed_at_google(org: Org, tether: Tether) -> None:
    signed = await _signed(org, tether)
    before = await _stored(tether, signed.id)

    with time_machine.travel(utcnow() + timedelta(hours=2), tick=True):
        checked = await signed.check()
        after = await _stored(tether, signed.id)

        assert checked["status"] == "active"
        assert after.expires_at is not None
        assert after.expires_at > utcnow()
    assert before.expires_at is not None
    assert after.expires_at > before.expires_at
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["token_refresh"] == {"ok": 1, "failed": 0}


async def test_deleting_the_authorization_revokes_the_grant_at_google(
    org: Org, tether: Tether
) -> None:
    signed = await _signed(org, tether)

    deleted = await org.api.delete(f"/api/v1/authorizations/{signed.id}")

    assert deleted.status_code == 204, deleted.text
    grants = await tether.sandbox("GET", "/grants", params={"username": "alice"})
    assert [g["revoked_reason"] for g in grants] == ["token_revoked"]
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["revoke"] == {"ok": 1, "failed": 0}


async def test_set_up_for_production_the_adapter_calls_googles_own_urls() -> None:
    google = ProviderSettings(
        client_id="123-abc.apps.googleusercontent.com",
        client_secret="not-a-real-secret",
        developer_token="not-a-real-developer-token",
    )
    async with httpx.AsyncClient() as http:
        registry = build_registry(Settings(providers={"google": google}), http)
        bare = build_registry(Settings(), http)

    provider = registry.providers["google_ads"]
    url = urlsplit(
        provider.authorize_url(
            state="s", code_verifier="v" * 43, redirect_uri="https://tether.example.com/cb"
        )
    )
    assert (url.scheme, url.netloc, url.path) == (
        "https",
        "accounts.google.com",
        "/o/oauth2/v2/auth",
    )
    assert query_of(url.geturl())["client_id"] == "123-abc.apps.googleusercontent.com"
    assert provider.bases == dict(GOOGLE_ADS.bases)
    assert provider.bases["ads"] == "https://googleads.googleapis.com"
    assert provider.oauth is not None
    assert provider.oauth.endpoints.token_url == "https://oauth2.googleapis.com/token"
    assert provider.oauth.endpoints.revoke_url == "https://oauth2.googleapis.com/revoke"
    assert provider.url(GOOGLE_ADS.probe_url or "") == (
        "https://googleads.googleapis.com/v21/customers:listAccessibleCustomers"
    )
    headers = provider.auth_headers(Credentials(access_token="t"))
    assert headers["developer-token"] == "not-a-real-developer-token"
    assert not bare.available("google_ads")
    assert set(bare.why_unavailable("google_ads").missing) == {  # type: ignore[union-attr]
        "TETHER_PROVIDERS__GOOGLE__CLIENT_ID",
        "TETHER_PROVIDERS__GOOGLE__CLIENT_SECRET",
        "TETHER_PROVIDERS__GOOGLE__DEVELOPER_TOKEN",
    }
