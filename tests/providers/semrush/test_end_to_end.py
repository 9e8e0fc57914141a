"""Semrush inside Tether, with the sandbox standing in for it: a key connected and its tracking
projects found, a replaced key lapsing its connections, the fault switches, daily traffic."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from tests.fixtures.builders import Org
from tests.fixtures.platforms import accounts_of, check
from tests.fixtures.running import Tether
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import MetricDay
from tether.sandbox.dialects.semrush import visits
from tether.sandbox.state import SandboxAccount
from tether.sync import service


async def connect_semrush(org: Org, tether: Tether) -> dict[str, Any]:
    user = await tether.sandbox("GET", "/users/alice")
    created = await org.api.post(
        "/api/v1/authorizations", json={"provider": "semrush", "api_key": user["api_key"]}
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def test_a_key_connects_finds_the_tracking_projects_and_never_expires(
    org: Org, tether: Tether
) -> None:
    authorization = await connect_semrush(org, tether)

    assert (authorization["provider"], authorization["status"]) == ("semrush", "active")
    assert authorization["external_user_name"] == "Semrush API key"
    alice = await tether.sandbox("GET", "/users/alice")
    projects = await accounts_of(org, authorization)
    assert sorted(p["external_id"] for p in projects) == sorted(alice["accounts"])
    assert alice["api_key"] not in str(authorization)
    with time_machine.travel(utcnow() + timedelta(days=400), tick=True):
        assert (await check(org, authorization))["status"] == "active"


async def test_a_wrong_key_is_refused_with_semrushs_line(org: Org) -> None:
    refused = await org.api.post(
        "/api/v1/authorizations", json={"provider": "semrush", "api_key": "not-a-semrush-key"}
    )

    assert refused.status_code == 422, refused.text
    assert "WRONG KEY" in refused.text
    assert "not-a-semrush-key" not in refused.text


@pytest.mark.parametrize(
    ("switch", "body", "status", "reason", "words"),
    [
        ("/users/alice/api-key", None, "needs_reconnect", "invalid_api_key", "WRONG KEY"),
        ("/faults", {"down": True}, "failing", "provider_outage", "Unavailable"),
        ("/faults", {"throttle_retry_after": 60}, "failing", "rate_limited", "LIMIT EXCEEDED"),
    ],
)
async def test_each_sandbox_switch_gives_semrushs_reason_and_words(
    org: Org,
    tether: Tether,
    switch: str,
    body: dict[str, Any] | None,
    status: str,
    reason: str,
    words: str,
) -> None:
    authorization = await connect_semrush(org, tether)

    if body is None:
        await tether.sandbox("POST", switch)
    else:
        await tether.sandbox("PUT", switch, json=body)
    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == (status, reason)
    assert words in checked["message"]


async def test_daily_traffic_loads_as_clicks_and_a_lost_project_lapses(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_semrush(org, tether)
    project, other = (await accounts_of(org, authorization))[:2]
    connection_id = uuid.UUID((await org.connection(project))["id"])
    lost_id = uuid.UUID((await org.connection(other))["id"])

    first = await service.sync_connection(engine, connection_id)
    with time_machine.travel(utcnow() + timedelta(days=1), tick=True):
        daily = await service.sync_connection(engine, connection_id)
    await tether.sandbox("DELETE", f"/users/alice/accounts/{other['external_id']}")
    lost = await service.sync_connection(engine, lost_id)

    assert (first.outcome, first.days_loaded) == ("synced", 90)
    assert (daily.outcome, daily.days_loaded) == ("synced", 2)
    yesterday = utcnow().date() - timedelta(days=1)
    async with tether.sessions() as session:
        row = await session.get(MetricDay, (connection_id, yesterday))
    account = SandboxAccount(project["external_id"], project["name"], "USD")
    assert row is not None
    assert (row.clicks, row.impressions, row.conversions) == (visits(account, yesterday), 0, 0)
    assert (lost.outcome, lost.reason) == ("failed", "access_removed")
