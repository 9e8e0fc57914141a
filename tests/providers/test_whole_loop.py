"""The whole loop on each real platform's dialect: connect, load, lapse, notify, reconnect and
backfill, exactly as on the sandbox's own API."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import time_machine

from tests.fixtures.builders import Org, sign_in_through
from tests.fixtures.running import Tether
from tests.fixtures.smtp import Mailbox
from tether.db import utcnow
from tether.health.checks import Engine
from tether.notifications import email
from tether.sync import service
from tether.sync.schedule import SYNC_ACTOR, SYNCS

PLATFORMS = [
    "google_ads",
    "google_analytics",
    "youtube",
    "meta_ads",
    "linkedin_ads",
    "tiktok_ads",
    "pinterest_ads",
    "snapchat_ads",
    "amazon_ads",
    "microsoft_ads",
    "x_ads",
]


async def _run_due_syncs(tether: Tether, engine: Engine) -> set[str]:
    async with tether.sessions() as session:
        jobs = await SYNCS.take_due(session, utcnow(), tether.settings)
        await session.commit()
    ids = [i for job in jobs if job.actor == SYNC_ACTOR for i in job.args[0]]
    await service.sync_many(engine, [uuid.UUID(i) for i in ids])
    return set(ids)


async def _deliver_emails(tether: Tether) -> None:
    async with tether.sessions() as session:
        jobs = await email.take_due(session, utcnow(), tether.settings)
        await session.commit()
    for job in jobs:
        await email.send_emails(tether.sessions, tether.settings, *job.args)


async def _coverage(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await api.get("/api/v1/coverage")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


@pytest.mark.parametrize("provider", PLATFORMS)
async def test_the_whole_loop_holds_on_each_platform_dialect(
    org: Org, tether: Tether, engine: Engine, smtp: Mailbox, provider: str
) -> None:
    authorization_id = await sign_in_through(org.api, body={"provider": provider})
    listed = await org.api.get(f"/api/v1/authorizations/{authorization_id}/accounts")
    account = listed.json()["data"][0]
    for name in ("Northwind Outfitters", "Blue Fjord Coffee"):
        client = await org.client(name)
        created = await org.api.post(
            "/api/v1/connections", json={"client_id": client["id"], "account_id": account["id"]}
        )
        assert created.status_code == 201, created.text

    await _run_due_syncs(tether, engine)
    assert [(row["days_loaded"], row["missing"]) for row in await _coverage(org.api)] == [
        (90, []),
        (90, []),
    ]

    await tether.sandbox("POST", "/users/alice/grants/revoke")
    checked = await org.api.post(f"/api/v1/authorizations/{authorization_id}/check")
    assert checked.json()["status"] == "needs_reconnect"
    assert checked.json()["message"]  # the platform's own words
    counts = (await org.api.get("/api/v1/connections/counts")).json()
    assert counts["needs_reconnect"] == 2
    notices = (await org.api.get("/api/v1/notifications")).json()["data"]
    assert {n["provider"] for n in notices if n["event"].endswith("lapsed")} == {provider}

    with time_machine.travel(utcnow() + timedelta(days=5), tick=True):
        # Past any digest window (YouTube's lapses go out grouped): the connector's email.
        await _deliver_emails(tether)
        assert any("reconnect" in m.text.lower() for m in smtp.received)
        assert await _run_due_syncs(tether, engine) == set()  # nothing loads while lapsed
        gaps = [row["missing"] for row in await _coverage(org.api)]
        assert all(g and g[0]["in_incident"] for g in gaps)

        await org.api.post(f"/api/v1/authorizations/{authorization_id}/check")  # keeps lapsed
        assert (
            await sign_in_through(org.api, f"/api/v1/authorizations/{authorization_id}/reconnect")
            == authorization_id
        )
        counts = (await org.api.get("/api/v1/connections/counts")).json()
        assert (counts["active"], counts["needs_reconnect"]) == (2, 0)

        await _run_due_syncs(tether, engine)
        assert [(row["days_loaded"], row["missing"]) for row in await _coverage(org.api)] == [
            (90, []),
            (90, []),
        ]


# Tools connected with an API key: a replaced key lapses them; entering the new one restores.
KEYED = ["callrail", "semrush"]


@pytest.mark.parametrize("provider", KEYED)
async def test_the_whole_loop_holds_for_each_api_key_tool(
    org: Org, tether: Tether, engine: Engine, smtp: Mailbox, provider: str
) -> None:
    alice = await tether.sandbox("GET", "/users/alice")
    created = await org.api.post(
        "/api/v1/authorizations", json={"provider": provider, "api_key": alice["api_key"]}
    )
    assert created.status_code == 201, created.text
    authorization_id = created.json()["id"]
    listed = await org.api.get(f"/api/v1/authorizations/{authorization_id}/accounts")
    account = listed.json()["data"][0]
    for name in ("Northwind Outfitters", "Blue Fjord Coffee"):
        client = await org.client(name)
        connected = await org.api.post(
            "/api/v1/connections", json={"client_id": client["id"], "account_id": account["id"]}
        )
        assert connected.status_code == 201, connected.text
    await _run_due_syncs(tether, engine)

    replaced = await tether.sandbox("POST", "/users/alice/api-key")
    checked = await org.api.post(f"/api/v1/authorizations/{authorization_id}/check")
    assert (checked.json()["status"], checked.json()["reason"]) == (
        "needs_reconnect",
        "invalid_api_key",
    )
    counts = (await org.api.get("/api/v1/connections/counts")).json()
    assert counts["needs_reconnect"] == 2

    with time_machine.travel(utcnow() + timedelta(days=5), tick=True):
        await _deliver_emails(tether)
        assert any("reconnect" in m.text.lower() for m in smtp.received)
        assert await _run_due_syncs(tether, engine) == set()
        again = await org.api.put(
            f"/api/v1/authorizations/{authorization_id}/api-key",
            json={"api_key": replaced["api_key"]},
        )
        assert again.status_code == 200, again.text
        counts = (await org.api.get("/api/v1/connections/counts")).json()
        assert (counts["active"], counts["needs_reconnect"]) == (2, 0)
        await _run_due_syncs(tether, engine)
        assert [(row["days_loaded"], row["missing"]) for row in await _coverage(org.api)] == [
            (90, []),
            (90, []),
        ]
