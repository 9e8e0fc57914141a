"""Each sandbox switch, driven over HTTP, and what Tether records for it."""

import uuid
from datetime import timedelta

import time_machine

from tests.fixtures.connected import Connected
from tether.db import utcnow
from tether.models import Authorization


async def _stored(connected: Connected) -> Authorization:
    async with connected.tether.sessions() as session:
        stored = await session.get(Authorization, uuid.UUID(connected.id))
    assert stored is not None
    return stored


async def _token_ended(connected: Connected) -> None:
    """The access token ended an hour ago, so the next check must refresh (or finds it dead)."""
    async with connected.tether.sessions.begin() as session:
        stored = await session.get(Authorization, uuid.UUID(connected.id))
        assert stored is not None
        stored.expires_at = utcnow() - timedelta(hours=1)


async def test_a_healthy_grant_stays_active_and_opens_nothing(connected: Connected) -> None:
    checked = await connected.check()

    assert checked["status"] == "active"
    assert await connected.incidents() == []
    assert set((await connected.connection_statuses()).values()) == {"active"}


async def test_a_revoked_grant_lapses_with_one_incident_naming_its_clients(
    connected: Connected,
) -> None:
    await connected.tether.sandbox("POST", f"/grants/{await connected.grant_id()}/revoke")

    first = await connected.check()
    await connected.check()

    assert first["status"] == "needs_reconnect"
    assert first["reason"] == "token_revoked"
    assert "revoked" in first["message"]
    (incident,) = await connected.incidents(state="open")
    assert incident["kind"] == "lapse"
    assert incident["reason"] == "token_revoked"
    assert {c["name"] for c in incident["affected_clients"]} == {
        "Northwind Outfitters",
        "Blue Fjord Coffee",
    }
    assert set((await connected.connection_statuses()).values()) == {"needs_reconnect"}
    changes = await connected.audit(action="authorization.status")
    assert [(e["from_value"], e["to_value"]) for e in changes] == [("active", "needs_reconnect")]
    assert changes[0]["actor"].startswith("member:")


async def test_a_password_change_lapses_the_grant(connected: Connected) -> None:
    await connected.tether.sandbox(
        "POST", "/users/alice/password", json={"password": "a-new-password"}
    )

    checked = await connected.check()

    assert checked["status"] == "needs_reconnect"
    assert checked["reason"] == "password_changed"


async def test_an_expired_grant_lapses_as_token_expired(connected: Connected) -> None:
    await connected.tether.sandbox("POST", f"/grants/{await connected.grant_id()}/expire")

    checked = await connected.check()

    assert checked["status"] == "needs_reconnect"
    assert checked["reason"] == "token_expired"


async def test_an_expired_access_token_is_refreshed_without_a_lapse(connected: Connected) -> None:
    await connected.tether.sandbox("POST", f"/grants/{await connected.grant_id()}/expire-access")

    checked = await connected.check()

    assert checked["status"] == "active", checked["message"]
    assert await connected.incidents() == []


async def test_access_removed_on_one_account_lapses_only_its_connections(
    connected: Connected,
) -> None:
    lost, kept = connected.accounts
    await connected.tether.sandbox("DELETE", f"/users/alice/accounts/{lost['external_id']}")

    checked = await connected.check()

    assert checked["status"] == "active"
    statuses = await connected.connection_statuses()
    assert statuses == {lost["external_id"]: "needs_reconnect", kept["external_id"]: "active"}
    (incident,) = await connected.incidents(state="open")
    assert incident["scope"] == "connection"
    assert incident["reason"] == "access_removed"
    assert lost["name"] in incident["message"]
    assert [c["name"] for c in incident["affected_clients"]] == ["Northwind Outfitters"]

    await connected.tether.sandbox("PUT", f"/users/alice/accounts/{lost['external_id']}")
    await connected.check()

    assert set((await connected.connection_statuses()).values()) == {"active"}
    (closed,) = await connected.incidents(state="closed")
    assert closed["closed_how"] == "recovered"


async def test_an_outage_is_failing_never_needs_reconnect(connected: Connected) -> None:
    await connected.tether.sandbox("PUT", "/faults", json={"down": True})

    checks = [await connected.check() for _ in range(3)]

    assert {c["status"] for c in checks} == {"failing"}
    assert checks[-1]["reason"] == "provider_outage"
    assert "temporarily unavailable" in checks[-1]["message"]
    assert await connected.incidents(kind="lapse") == []

    await connected.tether.sandbox("DELETE", "/faults")
    recovered = await connected.check()

    assert recovered["status"] == "active"
    assert set((await connected.connection_statuses()).values()) == {"active"}


async def test_throttling_is_failing_and_waits_for_retry_after(connected: Connected) -> None:
    await connected.tether.sandbox("PUT", "/faults", json={"throttle_retry_after": 120})

    checked = await connected.check()

    assert checked["status"] == "failing"
    assert checked["reason"] == "rate_limited"
    stored = await _stored(connected)
    assert stored.next_check_at is not None
    assert (stored.next_check_at - utcnow()).total_seconds() >= 115


async def test_a_provider_slower_than_the_timeout_is_failing(connected: Connected) -> None:
    timeout = connected.tether.settings.provider_timeout_seconds
    await connected.tether.sandbox("PUT", "/faults", json={"slow_ms": int(timeout * 1000) + 500})

    checked = await connected.check()

    assert checked["status"] == "failing"
    assert checked["reason"] == "provider_outage"
    assert "did not answer in time" in checked["message"]


async def test_a_slow_provider_within_the_timeout_is_still_active(connected: Connected) -> None:
    await connected.tether.sandbox("PUT", "/faults", json={"slow_ms": 300})

    checked = await connected.check()

    assert checked["status"] == "active"


async def test_failing_that_lasts_raises_an_alarm_once(connected: Connected) -> None:
    await connected.tether.sandbox("PUT", "/faults", json={"down": True})
    await connected.check()
    assert await connected.incidents(kind="failing") == []

    later = utcnow().timestamp() + connected.tether.settings.failing_alarm_after_seconds + 60
    with time_machine.travel(later, tick=True):
        await connected.check()
        await connected.check()

    (alarm,) = await connected.incidents(kind="failing")
    assert alarm["reason"] == "provider_outage"


async def _dead_with_its_token_ended(connected: Connected) -> tuple[str, float]:
    """Revoke the grant, end its token, check: the status, and seconds to the next check."""
    await connected.tether.sandbox("POST", f"/grants/{await connected.grant_id()}/revoke")
    await _token_ended(connected)
    checked = await connected.check()
    stored = await _stored(connected)
    assert stored.next_check_at is not None
    return checked["status"], (stored.next_check_at - utcnow()).total_seconds()


async def test_a_grant_whose_refresh_is_refused_waits_for_its_regular_check(
    connected: Connected,
) -> None:
    """Found dead by a refused refresh: checked again at the regular interval, not at every
    scheduler pass, which would ask the provider for a dead grant's token every few seconds."""
    status, wait = await _dead_with_its_token_ended(connected)

    assert status == "needs_reconnect"
    assert wait >= 0.85 * connected.tether.settings.check_interval_seconds


async def test_a_dead_grant_without_refresh_waits_for_its_regular_check(
    org_with_meta_like_grant: Connected,
) -> None:
    status, wait = await _dead_with_its_token_ended(org_with_meta_like_grant)

    assert status == "needs_reconnect"
    assert wait >= 0.85 * org_with_meta_like_grant.tether.settings.check_interval_seconds
