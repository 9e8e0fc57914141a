"""YouTube in Tether end to end, the sandbox's Google dialect standing in for Google: connect,
discover the channels, probe, each sandbox switch as Tether sees it, and the daily load."""

import uuid
from datetime import timedelta

import pytest

from tests.fixtures.builders import Org
from tests.fixtures.running import Tether
from tests.providers.google_analytics.running import (
    Source,
    connect,
)
from tether.db import utcnow
from tether.models import Authorization


async def _connected(org: Org, tether: Tether) -> Source:
    return await connect(org, tether, "youtube")


async def test_connecting_discovers_every_channel_over_the_pages(org: Org, tether: Tether) -> None:
    new = [{"name": f"Vlog {n}", "users": ["alice"]} for n in range(111)]
    created = await tether.sandbox("POST", "/accounts", json=new)

    source = await _connected(org, tether)

    accounts = await source.accounts()
    assert len(accounts) == 120  # 50 channels a page: three pages
    assert {a["external_id"]: a["name"] for a in accounts}[created[0]["id"]] == "Vlog 0"
    authorization = await source.get(f"/api/v1/authorizations/{source.authorization_id}")
    assert (authorization["provider"], authorization["account_count"]) == ("youtube", 120)


async def test_a_healthy_grant_is_checked_active(org: Org, tether: Tether) -> None:
    source = await _connected(org, tether)

    checked = await source.check()

    assert (checked["status"], checked["reason"]) == ("active", None)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/users/alice/grants/revoke", None),
        ("/users/alice/password", {"password": "a-new-password"}),
    ],
)
async def test_a_dead_grant_lapses(
    org: Org, tether: Tether, path: str, body: dict[str, str] | None
) -> None:
    source = await _connected(org, tether)
    await tether.sandbox("POST", path, json=body)

    checked = await source.check()

    assert (checked["status"], checked["reason"]) == ("needs_reconnect", "token_revoked")
    assert checked["message"]


async def test_a_lost_channel_lapses_only_its_connection_and_its_load_says_forbidden(
    org: Org, tether: Tether
) -> None:
    source = await _connected(org, tether)
    lost, kept = (await source.accounts())[:2]
    lost_connection = await source.connect_client(lost)
    await source.connect_client(kept)

    await tether.sandbox("DELETE", f"/users/alice/accounts/{lost['external_id']}")
    loaded = await source.sync(lost_connection)
    await source.check()

    assert (loaded["outcome"], loaded["reason"], loaded["error"]) == (
        "failed",
        "access_removed",
        "Forbidden",
    )
    statuses = await source.connection_statuses()
    assert statuses[lost["external_id"]][0] == "needs_reconnect"
    assert statuses[kept["external_id"]][0] == "active"


async def test_a_spent_quota_is_failing_and_waits_without_a_lapse(org: Org, tether: Tether) -> None:
    source = await _connected(org, tether)
    await tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 900})

    checked = await source.check()

    assert (checked["status"], checked["reason"]) == ("failing", "rate_limited")
    assert checked["message"] == (
        "The request cannot be completed because you have exceeded your quota."
    )
    async with tether.sessions() as session:
        stored = await session.get(Authorization, uuid.UUID(source.authorization_id))
    assert stored is not None
    assert stored.next_check_at is not None
    assert stored.next_check_at - utcnow() >= timedelta(seconds=890)


async def test_an_outage_is_failing_never_a_lapse(org: Org, tether: Tether) -> None:
    source = await _connected(org, tether)
    await tether.sandbox("PUT", "/faults", json={"down": True})

    checked = await source.check()

    assert (checked["status"], checked["reason"]) == ("failing", "provider_outage")
    assert checked["message"] == "The service is currently unavailable."


async def test_a_new_connection_loads_its_last_90_days(org: Org, tether: Tether) -> None:
    source = await _connected(org, tether)
    connection = await source.connect_client((await source.accounts())[0])

    loaded = await source.sync(connection)

    assert (loaded["outcome"], loaded["days_loaded"], loaded["lost_days"]) == ("synced", 90, 0)
    (row,) = (await source.get("/api/v1/coverage", connection_id=connection["id"]))["data"]
    assert (row["days_loaded"], row["missing"]) == (90, [])
