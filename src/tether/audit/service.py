"""The audit log: every change of status, incident, or setting, with who made it."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.audit import repository
from tether.db import utcnow
from tether.kit.pagination import Page, Sort, decode_cursor, paginate
from tether.models import AuditEvent
from tether.providers.catalog import BY_KEY

HEALTH = "tether:health"
_NEWEST_FIRST = Sort("at", descending=True)


def record(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID | None,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID | str,
    from_value: str | None = None,
    to_value: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Add one entry to the audit log, in the caller's transaction."""
    event = AuditEvent(
        organization_id=organization_id,
        at=utcnow(),
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        from_value=from_value,
        to_value=to_value,
        details={k: v for k, v in details.items() if v is not None},
    )
    session.add(event)
    return event


async def list_events(
    session: AsyncSession,
    *,
    actor: Actor,
    subject_type: str | None = None,
    subject_id: str | None = None,
    action: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    who: str | None = None,
) -> Page[AuditEvent]:
    before = decode_cursor(cursor, _NEWEST_FIRST) if cursor else None
    rows = await repository.page(
        session,
        actor.organization_id,
        subject_type=subject_type,
        subject_id=subject_id,
        action=action,
        before=before,
        limit=limit,
        who=who,
    )
    return paginate(rows, sort=_NEWEST_FIRST, limit=limit, key="at")


def _ids(events: Sequence[AuditEvent], subject_type: str) -> list[uuid.UUID]:
    found = []
    for event in events:
        if event.subject_type == subject_type:
            try:
                found.append(uuid.UUID(event.subject_id))
            except ValueError:
                continue
    return found


def _provider(key: str) -> str:
    return BY_KEY[key].name if key in BY_KEY else key


async def subject_names(
    session: AsyncSession, *, actor: Actor, events: Sequence[AuditEvent]
) -> dict[tuple[str, str], str]:
    """What each entry of a page is about, in words: keyed by (subject_type, subject_id).
    Subjects deleted since are left out; their entries' details still say what they were."""
    org = actor.organization_id
    names: dict[tuple[str, str], str] = {}
    authorizations = await repository.authorization_names(
        session, org, _ids(events, "authorization")
    )
    for key, (provider, user) in authorizations.items():
        names["authorization", str(key)] = f"{_provider(provider)} authorization of {user}"
    connections = await repository.connection_names(session, org, _ids(events, "connection"))
    for key, (client, account, provider) in connections.items():
        names["connection", str(key)] = f"{client} on {account} ({_provider(provider)})"
    incidents = await repository.incident_names(session, org, _ids(events, "incident"))
    for key, (kind, scope, provider) in incidents.items():
        names["incident", str(key)] = f"{kind.capitalize()} of a {_provider(provider)} {scope}"
    return names
