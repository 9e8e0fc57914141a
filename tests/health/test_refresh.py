"""Refreshing tokens ahead of expiry: on time, once, and never losing a rotated grant."""

import asyncio
import uuid
from datetime import datetime, timedelta

import httpx
import time_machine
from sqlalchemy import text

from tests.fixtures.builders import Org, connect_sandbox
from tests.fixtures.connected import Connected
from tests.fixtures.running import Tether
from tether.db import utcnow
from tether.health.refresh import Refresh, refresh
from tether.providers.registry import build_registry


async def _stored(connected: Connected) -> tuple[str, str, str]:
    async with connected.tether.sessions() as session:
        row = (
            await session.execute(
                text("SELECT access_token, refresh_token, expires_at FROM authorizations")
            )
        ).one()
    return str(row[0]), str(row[1]), str(row[2])


async def test_a_token_is_refreshed_inside_the_window_before_it_expires(
    connected: Connected,
) -> None:
    before = await _stored(connected)
    lifetime = 3600 - connected.tether.settings.refresh_window_seconds + 30

    with time_machine.travel(utcnow().timestamp() + lifetime, tick=True):
        checked = await connected.check()

    after = await _stored(connected)
    assert checked["status"] == "active"
    assert after[0] != before[0]
    assert after[2] > before[2]


async def test_a_token_far_from_expiry_is_not_refreshed(connected: Connected) -> None:
    before = await _stored(connected)

    await connected.check()

    assert await _stored(connected) == before


async def test_a_rotated_refresh_token_is_stored_and_keeps_working(connected: Connected) -> None:
    await connected.tether.sandbox("PUT", "/settings", json={"rotate_refresh_tokens": True})
    first = await _stored(connected)

    for hours in (1, 2):
        with time_machine.travel(utcnow().timestamp() + hours * 3600, tick=True):
            assert (await connected.check())["status"] == "active"

    last = await _stored(connected)
    assert last[1] != first[1]  # the refresh token moved on, and the new one works


async def test_racing_refreshes_call_the_provider_once(connected: Connected) -> None:
    tether = connected.tether
    authorization_id = uuid.UUID(connected.id)
    await tether.sandbox("DELETE", "/stats")
    due = utcnow().timestamp() + 3600 - tether.settings.refresh_window_seconds + 30
    with time_machine.travel(due, tick=True):
        async with httpx.AsyncClient() as http:
            registry = build_registry(tether.settings, http)
            results = await asyncio.gather(
                *(
                    refresh(tether.sessions, registry, tether.settings, authorization_id)
                    for _ in range(5)
                )
            )

    outcomes = [r.outcome for r in results]
    assert outcomes.count(Refresh.REFRESHED) == 1
    stats = await tether.sandbox("GET", "/stats")
    assert stats["users"]["alice"]["token_refresh"] == {"ok": 1, "failed": 0}
    assert set(outcomes) <= {Refresh.REFRESHED, Refresh.BUSY, Refresh.NOT_NEEDED}


async def test_a_token_that_cannot_be_refreshed_warns_before_it_lapses(
    org_with_meta_like_grant: Connected,
) -> None:
    connected = org_with_meta_like_grant
    days = connected.tether.settings.expiring_warning_days

    assert (await connected.check())["status"] == "active"
    assert await connected.incidents(kind="expiring") == []

    with time_machine.travel(utcnow().timestamp() + (60 - days + 1) * 86400, tick=True):
        await connected.check()
        await connected.check()
    (warning,) = await connected.incidents(kind="expiring", state="open")
    assert "cannot be renewed" in warning["message"]

    with time_machine.travel(utcnow().timestamp() + 61 * 86400, tick=True):
        lapsed = await connected.check()
    assert lapsed["status"] == "needs_reconnect"
    assert lapsed["reason"] == "token_expired"
    assert (await connected.incidents(kind="expiring"))[0]["closed_how"] == "lapsed"


async def test_a_refresh_token_with_a_fixed_end_warns_before_it_lapses(
    org: Org, tether: Tether
) -> None:
    # Like LinkedIn's 365 days, or Google's 7 days for apps whose consent screen is in Testing.
    await tether.sandbox("PUT", "/settings", json={"refresh_token_lifetime": 30 * 86400})
    connected = Connected(org, tether, await connect_sandbox(org.api), [], [], [])
    ends = datetime.fromisoformat(connected.authorization["refresh_expires_at"])
    assert abs((ends - utcnow()) - timedelta(days=30)) < timedelta(minutes=1)
    days = tether.settings.expiring_warning_days

    assert (await connected.check())["status"] == "active"
    assert await connected.incidents(kind="expiring") == []

    with time_machine.travel(utcnow() + timedelta(days=30 - days + 1), tick=True):
        assert (await connected.check())["status"] == "active"  # refreshed, still fine
        (warning,) = await connected.incidents(kind="expiring", state="open")
    assert f"ends on {ends:%Y-%m-%d}" in warning["message"]
    refreshed = (await org.api.get(f"/api/v1/authorizations/{connected.id}")).json()
    moved = datetime.fromisoformat(refreshed["refresh_expires_at"]) - ends
    assert abs(moved) < timedelta(seconds=5)  # refreshing does not move the end

    with time_machine.travel(utcnow() + timedelta(days=31), tick=True):
        lapsed = await connected.check()
    assert (lapsed["status"], lapsed["reason"]) == ("needs_reconnect", "token_expired")
    assert (await connected.incidents(kind="expiring"))[0]["closed_how"] == "lapsed"
