"""Google Analytics in Tether end to end, the sandbox's Google dialect standing in for Google:
connect, discover, probe, each sandbox switch as Tether sees it, and the daily load."""

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
    return await connect(org, tether, "google_analytics")


async def test_connecting_discovers_every_property_over_the_pages_of_account_summaries(
    org: Org, tether: Tether
) -> None:
    new = [{"name": f"Shop {n} — Web", "users": ["alice"]} for n in range(441)]
    await tether.sandbox("POST", "/accounts", json=new)

    source = await _connected(org, tether)

    accounts = await source.accounts()
    assert len(accounts) == 450  # pages of 200, 200 and 50 account summaries
    assert all(a["external_id"].startswith("properties/") for a in accounts)
    assert "Shop 0 — Web" in {a["name"] for a in accounts}
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["accounts"]["ok"] >= 3


async def test_a_healthy_grant_is_checked_active(org: Org, tether: Tether) -> None:
    source = await _connected(org, tether)

    checked = await source.check()

    assert (checked["status"], checked["reason"]) == ("active", None)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/users/alice/grants/revoke", None),
        ("/users/alice/grants/expire", None),
        ("/users/alice/password", {"password": "a-new-password"}),
    ],
)
async def test_a_dead_grant_lapses_with_googles_words(
    org: Org, tether: Tether, path: str, body: dict[str, str] | None
) -> None:
    source = await _connected(org, tether)
    await tether.sandbox("POST", path, json=body)

    checked = await source.check()

    # Google's API says only UNAUTHENTICATED; the refresh that follows hears invalid_grant.
    assert (checked["status"], checked["reason"]) == ("needs_reconnect", "token_revoked")
    assert checked["message"]


async def test_an_expired_access_token_is_refreshed_without_a_lapse(
    org: Org, tether: Tether
) -> None:
    source = await _connected(org, tether)
    await tether.sandbox("POST", "/users/alice/grants/expire-access")

    checked = await source.check()

    assert checked["status"] == "active", checked["message"]


async def test_a_lost_property_lapses_only_its_connection_and_its_load_says_why(
    org: Org, tether: Tether
) -> None:
    source = await _connected(org, tether)
    lost, kept = (await source.accounts())[:2]
    lost_connection = await source.connect_client(lost)
    await source.connect_client(kept)
    property_id = lost["external_id"].removeprefix("properties/")

    await tether.sandbox("DELETE", f"/users/alice/accounts/{property_id}")
    loaded = await source.sync(lost_connection)
    checked = await source.check()

    assert (loaded["outcome"], loaded["reason"]) == ("failed", "access_removed")
    assert loaded["error"] == "User does not have sufficient permissions for this property."
    assert checked["status"] == "active"
    statuses = await source.connection_statuses()
    assert statuses[lost["external_id"]][0] == "needs_reconnect"
    assert statuses[kept["external_id"]][0] == "active"


async def test_an_outage_is_failing_in_googles_words_and_never_a_lapse(
    org: Org, tether: Tether
) -> None:
    source = await _connected(org, tether)
    await tether.sandbox("PUT", "/faults", json={"down": True})

    checked = await source.check()

    assert (checked["status"], checked["reason"]) == ("failing", "provider_outage")
    assert checked["message"] == "The service is currently unavailable."


async def test_throttling_is_failing_and_waits_for_retry_after(org: Org, tether: Tether) -> None:
    source = await _connected(org, tether)
    await tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 900})

    checked = await source.check()

    assert (checked["status"], checked["reason"]) == ("failing", "rate_limited")
    async with tether.sessions() as session:
        stored = await session.get(Authorization, uuid.UUID(source.authorization_id))
    assert stored is not None
    assert stored.next_check_at is not None
    assert stored.next_check_at - utcnow() >= timedelta(seconds=890)


async def test_a_platform_slower_than_the_timeout_is_failing(org: Org, tether: Tether) -> None:
    source = await _connected(org, tether)
    timeout = tether.settings.provider_timeout_seconds
    await tether.sandbox("PUT", "/faults", json={"slow_ms": int(timeout * 1000) + 500})

    checked = await source.check()

    assert (checked["status"], checked["reason"]) == ("failing", "provider_outage")
    assert checked["message"] == "Google Analytics did not answer in time."


async def test_a_new_connection_loads_its_last_90_days(org: Org, tether: Tether) -> None:
    source = await _connected(org, tether)
    connection = await source.connect_client((await source.accounts())[0])

    loaded = await source.sync(connection)

    assert (loaded["outcome"], loaded["days_loaded"], loaded["lost_days"]) == ("synced", 90, 0)
    (row,) = (await source.get("/api/v1/coverage", connection_id=connection["id"]))["data"]
    assert (row["days_loaded"], row["missing"]) == (90, [])
    metrics = await source.get(
        f"/api/v1/connections/{connection['id']}/metrics",
        start=(utcnow().date() - timedelta(days=6)).isoformat(),
        end=utcnow().date().isoformat(),
    )
    assert len(metrics) == 7
    assert all(d["impressions"] >= d["clicks"] >= 0 for d in metrics)
