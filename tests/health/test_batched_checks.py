"""A job's checks are recorded together (the healthy ones in one UPDATE, the others in one
transaction), and exactly as one check at a time records them."""

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event, select

from tests.conftest import Tether
from tests.fixtures.builders import Org, connect_sandbox
from tether.db import utcnow
from tether.health import checks, repository
from tether.models import AuditEvent, Authorization, EmailDelivery, Incident, Notification
from tether.runtime import opened

USERS = ("alice", "bob", "carol")


async def _connect(org: Org) -> dict[str, uuid.UUID]:
    """Alice, Bob and Carol connected and checked once (so their accounts are not due)."""
    ids = {}
    for user in USERS:
        authorization_id = (await connect_sandbox(org.api, username=user))["id"]
        checked = await org.api.post(f"/api/v1/authorizations/{authorization_id}/check")
        assert checked.json()["status"] == "active", checked.text
        ids[user] = uuid.UUID(authorization_id)
    return ids


async def _rows(tether: Tether, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Authorization]:
    async with tether.sessions() as session:
        found = await session.scalars(select(Authorization).where(Authorization.id.in_(ids)))
        return {a.id: a for a in found}


async def _outcome(tether: Tether, authorization_id: uuid.UUID, since: datetime) -> dict[str, Any]:
    """What a check left on an authorization, without its random or clock-bound parts."""
    async with tether.sessions() as session:
        a = await session.get(Authorization, authorization_id)
        assert a is not None
        assert a.last_checked_at is not None
        assert a.next_check_at is not None
        incidents = (
            await session.scalars(
                select(Incident).where(Incident.authorization_id == authorization_id)
            )
        ).all()
        incident_ids = {str(i.id) for i in incidents}
        audit = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.subject_id.in_([str(authorization_id), *incident_ids]))
                .where(AuditEvent.at >= since)
            )
        ).all()
    wait = (a.next_check_at - a.last_checked_at).total_seconds()
    return {
        "status": (a.status, a.reason, a.message),
        "failures": (a.check_failures, a.failing_since is not None),
        "checked": a.last_checked_at >= since,
        "wait": "short" if wait < 300 else "regular",
        "incidents": sorted((i.kind, i.reason, i.closed_at is None) for i in incidents),
        "audit": sorted(
            (e.actor, e.action, e.from_value, e.to_value, e.subject_type) for e in audit
        ),
    }


async def test_healthy_checks_of_a_batch_are_recorded_together_as_single_checks_are(
    org: Org, tether: Tether, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await _connect(org)
    before = await _rows(tether, list(ids.values()))
    marked: list[set[uuid.UUID]] = []
    mark_checked = repository.mark_checked

    async def spy(*args: Any, **kwargs: Any) -> set[uuid.UUID]:
        marked.append(await mark_checked(*args, **kwargs))
        return marked[-1]

    monkeypatch.setattr(repository, "mark_checked", spy)
    started = utcnow()

    async with opened(tether.settings) as runtime:
        counts = await checks.check_many(runtime.health, [ids["alice"], ids["bob"]])
        alone = await checks.check(runtime.health, ids["carol"])

    assert counts == Counter({"active": 2})
    assert alone == "active"
    assert marked == [{ids["alice"], ids["bob"]}], "the healthy pair took the batched path"
    after = await _rows(tether, list(ids.values()))
    interval = tether.settings.check_interval_seconds
    for user, authorization_id in ids.items():
        was, now = before[authorization_id], after[authorization_id]
        assert (now.status, now.reason, now.message) == ("active", None, None), user
        assert (now.check_failures, now.failing_since) == (0, None), user
        assert now.last_checked_at is not None
        assert now.last_checked_at >= started, user
        assert now.next_check_at is not None
        ahead = (now.next_check_at - now.last_checked_at).total_seconds()
        assert 0.85 * interval <= ahead <= 1.15 * interval, user
        assert now.accounts_checked_at == was.accounts_checked_at, user
        assert now.updated_at > was.updated_at, user
    single = await _outcome(tether, ids["carol"], started)
    for user in ("alice", "bob"):
        assert await _outcome(tether, ids[user], started) == single, user
    assert single["incidents"] == []
    assert single["audit"] == []


async def test_a_mixed_batch_ends_as_checking_each_alone(
    org: Org, other_org: Org, tether: Tether
) -> None:
    batched, single = await _connect(org), await _connect(other_org)
    for grant in await tether.sandbox("GET", "/grants", params={"username": "bob"}):
        await tether.sandbox("POST", f"/grants/{grant['id']}/revoke")
    await tether.sandbox("PUT", "/faults", json={"users": ["carol"], "throttle_retry_after": 30})
    started = utcnow()

    async with opened(tether.settings) as runtime:
        counts = await checks.check_many(runtime.health, list(batched.values()))
        alone = [await checks.check(runtime.health, single[user]) for user in USERS]

    assert counts == Counter({"active": 1, "needs_reconnect": 1, "failing": 1})
    assert alone == ["active", "needs_reconnect", "failing"]
    for user in USERS:
        assert await _outcome(tether, batched[user], started) == await _outcome(
            tether, single[user], started
        ), user
    revoked = await _outcome(tether, batched["bob"], started)
    assert revoked["status"][:2] == ("needs_reconnect", "token_revoked")
    assert revoked["incidents"] == [("lapse", "token_revoked", True)]
    throttled = await _outcome(tether, batched["carol"], started)
    assert throttled["status"][:2] == ("failing", "rate_limited")
    assert throttled["failures"] == (1, True)


async def test_an_authorization_changed_during_its_probe_is_recorded_on_what_it_became(
    org: Org, tether: Tether, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await _connect(org)
    probe = checks._probe

    async def probe_while_another_worker_writes(engine: checks.Engine, a: Authorization) -> Any:
        if a.id == ids["alice"]:
            async with tether.sessions() as session:
                fresh = await session.get(Authorization, a.id)
                assert fresh is not None
                fresh.status, fresh.reason = "failing", "rate_limited"
                fresh.check_failures, fresh.failing_since = 1, utcnow()
                await session.commit()
        return await probe(engine, a)

    monkeypatch.setattr(checks, "_probe", probe_while_another_worker_writes)
    async with opened(tether.settings) as runtime:
        counts = await checks.check_many(runtime.health, list(ids.values()))

    assert counts == Counter({"active": 3})
    alice = (await _rows(tether, [ids["alice"]]))[ids["alice"]]
    assert (alice.status, alice.reason, alice.check_failures) == ("active", None, 0)
    async with tether.sessions() as session:
        changes = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.subject_id == str(ids["alice"]),
                    AuditEvent.action == "authorization.status",
                )
            )
        ).all()
    assert [(e.from_value, e.to_value) for e in changes] == [("failing", "active")]


async def _revoke(tether: Tether, *users: str) -> None:
    for user in users:
        for grant in await tether.sandbox("GET", "/grants", params={"username": user}):
            await tether.sandbox("POST", f"/grants/{grant['id']}/revoke")


async def _told(tether: Tether, authorization_id: uuid.UUID) -> list[tuple[str, str]]:
    """The in-app and email rows that tell of the authorization's incidents."""
    async with tether.sessions() as session:
        incidents = select(Incident.id).where(Incident.authorization_id == authorization_id)
        in_app = await session.scalars(
            select(Notification.event).where(Notification.incident_id.in_(incidents))
        )
        emails = await session.scalars(
            select(EmailDelivery.event).where(EmailDelivery.incident_id.in_(incidents))
        )
        return sorted([("in_app", e) for e in in_app] + [("email", e) for e in emails])


async def test_lapses_of_a_batch_are_recorded_in_one_transaction_and_told_once_each(
    org: Org, other_org: Org, tether: Tether
) -> None:
    batched, single = await _connect(org), await _connect(other_org)
    await _revoke(tether, *USERS)
    started = utcnow()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    async with opened(tether.settings) as runtime:
        bind = runtime.health.sessions.kw["bind"].sync_engine
        event.listen(bind, "before_cursor_execute", seen)
        counts = await checks.check_many(runtime.health, list(batched.values()))
        event.remove(bind, "before_cursor_execute", seen)
        alone = [await checks.check(runtime.health, single[user]) for user in USERS]

    assert counts == Counter({"needs_reconnect": 3})
    assert alone == ["needs_reconnect"] * 3
    for user in USERS:
        outcome = await _outcome(tether, batched[user], started)
        assert outcome == await _outcome(tether, single[user], started), user
        assert outcome["incidents"] == [("lapse", "token_revoked", True)], user
        told = await _told(tether, batched[user])
        assert told == await _told(tether, single[user]), user
        assert told == [("email", "authorization.lapsed"), ("in_app", "authorization.lapsed")]
    held = [s for s in statements if s.startswith("SELECT") and "ORDER BY authorizations.id" in s]
    assert len(held) == 1, "the three authorizations are read (and held) by one statement"
    if tether.backend.name == "postgresql":  # SQLite locks the whole database instead
        assert held[0].endswith("FOR NO KEY UPDATE")
    members = [s for s in statements if s.startswith("SELECT") and "FROM members" in s]
    assert len(members) == 1, "the organization's audience is read once for the three lapses"


async def test_a_batch_that_cannot_be_recorded_together_is_recorded_check_by_check(
    org: Org, tether: Tether, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await _connect(org)
    await _revoke(tether, "bob")
    await tether.sandbox("PUT", "/faults", json={"users": ["carol"], "throttle_retry_after": 30})

    async def lost(*_: Any) -> None:
        raise ConnectionResetError("the database connection was reset")

    monkeypatch.setattr(checks, "all_locked", lost)
    async with opened(tether.settings) as runtime:
        counts = await checks.check_many(runtime.health, list(ids.values()))

    assert counts == Counter({"active": 1, "needs_reconnect": 1, "failing": 1})
    rows = await _rows(tether, list(ids.values()))
    assert rows[ids["bob"]].status == "needs_reconnect"
    assert (rows[ids["carol"]].status, rows[ids["carol"]].check_failures) == ("failing", 1)
    assert await _told(tether, ids["bob"]) == [
        ("email", "authorization.lapsed"),
        ("in_app", "authorization.lapsed"),
    ]
