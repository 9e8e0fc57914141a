"""Providers declared in a file go through everything a built-in one does, against an OAuth 2.0
server this project did not write (panva's oidc-provider): connect, refresh, expiry, revoke,
lapse, notify, reconnect, backfill, and revoke on delete."""

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import time_machine
from sqlalchemy import select

from tests.fixtures.builders import Org
from tests.fixtures.oidc import OidcServer
from tests.fixtures.running import Tether
from tests.fixtures.smtp import Mailbox
from tests.providers.custom.steps import connect_acme, connection_of, sign_in_at_acme
from tether import vault
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import Authorization
from tether.notifications import email
from tether.sync import service
from tether.sync.schedule import SYNC_ACTOR, SYNCS

from .conftest import ADS_CLIENT, REFRESH_TOKEN_TTL


async def _tokens(tether: Tether, authorization_id: str) -> tuple[str, str | None]:
    """The authorization's access and refresh tokens, opened from the vault."""
    async with tether.sessions() as session:
        a = await session.scalar(
            select(Authorization).where(Authorization.id == uuid.UUID(authorization_id))
        )
    assert a is not None
    assert a.access_token is not None
    refresh = vault.reveal(a.refresh_token) if a.refresh_token is not None else None
    return vault.reveal(a.access_token), refresh


async def _check(api: httpx.AsyncClient, authorization_id: str) -> dict[str, Any]:
    response = await api.post(f"/api/v1/authorizations/{authorization_id}/check")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _run_due_syncs(tether: Tether, engine: Engine) -> set[str]:
    async with tether.sessions() as session:
        jobs = await SYNCS.take_due(session, utcnow(), tether.settings)
        await session.commit()
    ids = [i for job in jobs if job.actor == SYNC_ACTOR for i in job.args[0]]
    await service.sync_many(engine, [uuid.UUID(i) for i in ids])
    return set(ids)


async def _coverage(api: httpx.AsyncClient) -> list[tuple[int, list[Any]]]:
    response = await api.get("/api/v1/coverage")
    assert response.status_code == 200, response.text
    return [(row["days_loaded"], row["missing"]) for row in response.json()["data"]]


async def test_declared_providers_are_in_the_catalog_and_available(org: Org) -> None:
    listed = (await org.api.get("/api/v1/providers")).json()["data"]
    by_key = {p["key"]: p for p in listed}

    assert by_key["acme_ads"]["name"] == "Acme Ads"
    assert (by_key["acme_ads"]["available"], by_key["acme_ads"]["daily_loads"]) == (True, True)
    assert (by_key["acme_directory"]["available"], by_key["acme_directory"]["daily_loads"]) == (
        True,
        False,
    )
    assert (by_key["acme_keys"]["auth_kind"], by_key["acme_keys"]["available"]) == (
        "api_key",
        True,
    )


async def test_connecting_signs_in_at_the_server_and_takes_the_identity_as_the_account(
    org: Org, tether: Tether, idp: OidcServer
) -> None:
    started = await org.api.post(
        "/api/v1/authorizations/oauth/start", json={"provider": "acme_ads"}
    )
    query = parse_qs(urlsplit(started.json()["authorize_url"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["openid offline_access profile email"]

    authorization_id = await connect_acme(org.api)

    authorization = (await org.api.get(f"/api/v1/authorizations/{authorization_id}")).json()
    assert (authorization["status"], authorization["external_user_id"]) == ("active", "alice")
    assert authorization["external_user_name"] == "Alice Archer"
    accounts = (await org.api.get(f"/api/v1/authorizations/{authorization_id}/accounts")).json()
    assert [(a["external_id"], a["name"]) for a in accounts["data"]] == [("alice", "Alice Archer")]
    access, refresh = await _tokens(tether, authorization_id)
    assert refresh is not None
    assert (await idp.userinfo(access)).json()["email"] == "alice@acme.example"


async def test_a_token_inside_the_refresh_window_is_refreshed_at_the_server(
    org: Org, tether: Tether, idp: OidcServer
) -> None:
    authorization_id = await connect_acme(org.api)
    before, _ = await _tokens(tether, authorization_id)
    due = 3600 - tether.settings.refresh_window_seconds + 30

    with time_machine.travel(utcnow() + timedelta(seconds=due), tick=True):
        checked = await _check(org.api, authorization_id)

    after, _ = await _tokens(tether, authorization_id)
    assert checked["status"] == "active"
    changed = after != before  # compared apart, so a failure never prints a token
    assert changed
    assert (await idp.userinfo(after)).status_code == 200  # the server issued it


async def test_a_refresh_token_past_its_lifetime_lapses_with_the_servers_words(
    org: Org, idp: OidcServer
) -> None:
    authorization_id = await connect_acme(org.api)
    later = REFRESH_TOKEN_TTL + 3600

    await idp.travel(later)
    with time_machine.travel(utcnow() + timedelta(seconds=later), tick=True):
        checked = await _check(org.api, authorization_id)

    assert checked["status"] == "needs_reconnect"
    # oidc-provider names no cause in its answer, so the file's plain invalid_grant rule holds.
    assert (checked["reason"], checked["message"]) == ("invalid_grant", "grant request is invalid")


async def test_a_grant_revoked_at_the_server_lapses_notifies_and_reconnects(
    org: Org, tether: Tether, idp: OidcServer
) -> None:
    authorization_id = await connect_acme(org.api)
    _, refresh = await _tokens(tether, authorization_id)
    assert refresh is not None

    await idp.revoke(refresh, ADS_CLIENT)
    checked = await _check(org.api, authorization_id)

    assert (checked["status"], checked["reason"]) == ("needs_reconnect", "token_revoked")
    assert checked["message"] == "invalid token provided"
    notices = (await org.api.get("/api/v1/notifications")).json()["data"]
    lapsed = [n for n in notices if n["event"].endswith("lapsed")]
    assert [(n["provider"], n["message"]) for n in lapsed] == [
        (
            "acme_ads",
            "The Acme Ads access of Alice Archer needs reconnecting: invalid token provided",
        )
    ]

    path = f"/api/v1/authorizations/{authorization_id}/reconnect"
    assert await sign_in_at_acme(org.api, path) == authorization_id
    assert (await _check(org.api, authorization_id))["status"] == "active"


async def test_deleting_an_authorization_revokes_its_grant_at_the_server(
    org: Org, tether: Tether, idp: OidcServer
) -> None:
    authorization_id = await connect_acme(org.api)
    access, _ = await _tokens(tether, authorization_id)
    assert (await idp.userinfo(access)).status_code == 200

    deleted = await org.api.delete(f"/api/v1/authorizations/{authorization_id}")

    assert deleted.status_code == 204, deleted.text
    refused = await idp.userinfo(access)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"


async def test_the_whole_loop_holds_for_a_declared_provider(
    org: Org, tether: Tether, engine: Engine, idp: OidcServer, smtp: Mailbox
) -> None:
    authorization_id = await connect_acme(org.api)
    connections = [
        await connection_of(org, authorization_id, name)
        for name in ("Northwind Outfitters", "Blue Fjord Coffee")
    ]

    await _run_due_syncs(tether, engine)
    assert await _coverage(org.api) == [(90, []), (90, [])]
    day = (await org.api.get(f"/api/v1/connections/{connections[0]['id']}/metrics")).json()[-1]
    n = int(day["day"][8:10])  # the server's made-up figures: two campaigns a day, added up
    assert (day["impressions"], day["clicks"], day["conversions"]) == (200 * n + 3, 2 * n + 3, 3)
    assert (Decimal(day["spend"]), day["currency"]) == (Decimal("3.75"), "EUR")

    _, refresh = await _tokens(tether, authorization_id)
    assert refresh is not None
    await idp.revoke(refresh, ADS_CLIENT)
    assert (await _check(org.api, authorization_id))["status"] == "needs_reconnect"
    counts = (await org.api.get("/api/v1/connections/counts")).json()
    assert counts["needs_reconnect"] == 2
    await _deliver_emails(tether)
    assert any("Acme Ads" in m.text and "reconnect" in m.text.lower() for m in smtp.received)

    await idp.travel(5 * 86400)  # both clocks move: the browser's cookies follow Tether's
    with time_machine.travel(utcnow() + timedelta(days=5), tick=True):
        assert await _run_due_syncs(tether, engine) == set()  # nothing loads while lapsed
        gaps = [missing for _, missing in await _coverage(org.api)]
        assert all(g and g[0]["in_incident"] for g in gaps)

        path = f"/api/v1/authorizations/{authorization_id}/reconnect"
        assert await sign_in_at_acme(org.api, path) == authorization_id
        counts = (await org.api.get("/api/v1/connections/counts")).json()
        assert (counts["active"], counts["needs_reconnect"]) == (2, 0)

        await _run_due_syncs(tether, engine)
        assert await _coverage(org.api) == [(90, []), (90, [])]


async def _deliver_emails(tether: Tether) -> None:
    async with tether.sessions() as session:
        jobs = await email.take_due(session, utcnow(), tether.settings)
        await session.commit()
    for job in jobs:
        await email.send_emails(tether.sessions, tether.settings, *job.args)


async def test_a_declared_provider_without_a_report_loads_nothing_and_says_so(
    org: Org, tether: Tether, idp: OidcServer
) -> None:
    authorization_id = await connect_acme(org.api, "acme_directory")  # client_secret_post
    connection = await connection_of(org, authorization_id, "Northwind Outfitters")

    synced = await tether.sync(org.api, connection["id"])

    assert synced["outcome"] == "skipped"
    assert "no daily loads" in synced["error"]
    assert (await org.api.get(f"/api/v1/connections/{connection['id']}/metrics")).json() == []
    assert (await _check(org.api, authorization_id))["status"] == "active"


async def test_a_declared_api_key_provider_verifies_keys_with_the_provider(
    org: Org, tether: Tether
) -> None:
    users = await tether.sandbox("GET", "/users")
    key = next(u["api_key"] for u in users if u["username"] == "carol")

    connected = await org.api.post(
        "/api/v1/authorizations", json={"provider": "acme_keys", "api_key": key}
    )
    refused = await org.api.post(
        "/api/v1/authorizations", json={"provider": "acme_keys", "api_key": "sbx_wrong"}
    )

    assert connected.status_code == 201, connected.text
    assert connected.json()["account_count"] > 0  # listed page after page
    assert refused.status_code == 422
    assert "not recognised" in refused.json()["error"]["message"]
