"""CallRail inside Tether, with the sandbox standing in for it: a key connected and its
companies found, a replaced key lapsing its connections, the fault switches, daily calls."""

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
from tether.sandbox.dialects.callrail import calls
from tether.sandbox.state import SandboxAccount
from tether.sync import service


async def connect_callrail(org: Org, tether: Tether, username: str = "alice") -> dict[str, Any]:
    user = await tether.sandbox("GET", f"/users/{username}")
    created = await org.api.post(
        "/api/v1/authorizations", json={"provider": "callrail", "api_key": user["api_key"]}
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def test_a_key_connects_and_finds_every_company(org: Org, tether: Tether) -> None:
    authorization = await connect_callrail(org, tether)

    assert (authorization["provider"], authorization["status"]) == ("callrail", "active")
    assert authorization["external_user_name"] == "Alice Martin (agency)"
    assert authorization["expires_at"] is None
    alice = await tether.sandbox("GET", "/users/alice")
    companies = await accounts_of(org, authorization)
    assert sorted(c["external_id"] for c in companies) == sorted(
        f"COM{n}" for n in alice["accounts"]
    )
    with time_machine.travel(utcnow() + timedelta(days=400), tick=True):
        assert (await check(org, authorization))["status"] == "active"  # a key does not expire
    incidents = (await org.api.get("/api/v1/incidents", params={"kind": "expiring"})).json()
    assert incidents["data"] == []


async def test_a_wrong_key_is_refused_with_callrails_words_and_nothing_is_stored(
    org: Org,
) -> None:
    refused = await org.api.post(
        "/api/v1/authorizations", json={"provider": "callrail", "api_key": "not-a-callrail-key"}
    )

    assert refused.status_code in (400, 422), refused.text
    assert "Access denied" in refused.text
    assert "not-a-callrail-key" not in refused.text
    listed = (await org.api.get("/api/v1/authorizations")).json()["data"]
    assert listed == []


@pytest.mark.parametrize(
    ("switch", "status", "reason", "words"),
    [
        ("/users/alice/api-key", "needs_reconnect", "invalid_api_key", "Access denied"),
        ("/faults", "failing", "provider_outage", "maintenance"),
    ],
)
async def test_each_sandbox_switch_gives_callrails_reason_and_words(
    org: Org, tether: Tether, switch: str, status: str, reason: str, words: str
) -> None:
    authorization = await connect_callrail(org, tether)

    if switch == "/faults":
        await tether.sandbox("PUT", switch, json={"down": True})
    else:
        await tether.sandbox("POST", switch)
    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == (status, reason)
    assert words in checked["message"]


async def test_a_throttled_check_is_failing_not_lapsed(org: Org, tether: Tether) -> None:
    authorization = await connect_callrail(org, tether)
    await tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 60})

    checked = await check(org, authorization)

    assert (checked["status"], checked["reason"]) == ("failing", "rate_limited")


async def test_daily_calls_load_as_conversions_and_a_lost_company_lapses(
    org: Org, tether: Tether, engine: Engine
) -> None:
    authorization = await connect_callrail(org, tether)
    company, other = (await accounts_of(org, authorization))[:2]
    connection_id = uuid.UUID((await org.connection(company))["id"])
    lost_id = uuid.UUID((await org.connection(other))["id"])

    first = await service.sync_connection(engine, connection_id)
    with time_machine.travel(utcnow() + timedelta(days=1), tick=True):
        daily = await service.sync_connection(engine, connection_id)
    await tether.sandbox(
        "DELETE", f"/users/alice/accounts/{other['external_id'].removeprefix('COM')}"
    )
    lost = await service.sync_connection(engine, lost_id)

    assert (first.outcome, first.days_loaded) == ("synced", 90)
    assert (daily.outcome, daily.days_loaded) == ("synced", 2)
    yesterday = utcnow().date() - timedelta(days=1)
    async with tether.sessions() as session:
        row = await session.get(MetricDay, (connection_id, yesterday))
    account = SandboxAccount(company["external_id"].removeprefix("COM"), company["name"], "USD")
    assert row is not None
    assert (row.conversions, row.impressions, row.clicks) == (calls(account, yesterday), 0, 0)
    assert (lost.outcome, lost.reason) == ("failed", "access_removed")
