"""Opening and closing incidents: one open incident per scope and kind, each closed once."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tether import metrics
from tether.audit import service as audit
from tether.events import publish
from tether.health import repository
from tether.health.events import IncidentClosed, IncidentOpened
from tether.models import Incident, IncidentClient, IncidentKind, IncidentScope


def authorization_key(authorization_id: uuid.UUID) -> str:
    return f"authorization:{authorization_id}"


def connection_key(connection_id: uuid.UUID) -> str:
    return f"connection:{connection_id}"


def provider_key(provider: str) -> str:
    return f"provider:{provider}"


async def open_incident(
    session: AsyncSession,
    *,
    kind: IncidentKind,
    scope: IncidentScope,
    scope_key: str,
    organization_id: uuid.UUID | None,
    provider: str,
    reason: str,
    message: str,
    now: datetime,
    actor: str,
    authorization_id: uuid.UUID | None = None,
    connection_id: uuid.UUID | None = None,
    affected_client_ids: Sequence[uuid.UUID] = (),
) -> Incident:
    """The open incident of this scope and kind, opened now if there is none (or the one
    another transaction opened meanwhile)."""
    existing = await repository.open_incident(session, scope_key, kind)
    if existing is not None:
        return existing
    incident = Incident(
        organization_id=organization_id,
        scope=scope,
        scope_key=scope_key,
        kind=kind,
        provider=provider,
        authorization_id=authorization_id,
        connection_id=connection_id,
        reason=reason,
        message=message,
        opened_at=now,
    )
    try:
        # In a savepoint: when another transaction opened the same incident since it was
        # looked for (two checks judging one provider's outage at once), only this insert is
        # undone and the rest of the caller's transaction (the check's own writes) stands.
        async with session.begin_nested():
            session.add(incident)
            await session.flush()
    except IntegrityError:
        opened = await repository.open_incident(session, scope_key, kind)
        if opened is None:
            raise
        return opened
    session.add_all(
        IncidentClient(incident_id=incident.id, client_id=c) for c in affected_client_ids
    )
    audit.record(
        session,
        organization_id=organization_id,
        actor=actor,
        action="incident.opened",
        subject_type="incident",
        subject_id=incident.id,
        to_value=kind,
        reason=reason,
        scope=scope_key,
    )
    await session.flush()
    if kind == IncidentKind.LAPSE:
        metrics.on_commit(session, metrics.LAPSES.labels(provider, reason).inc)
    await publish(session, IncidentOpened(incident, now))
    return incident


async def close_incidents(
    session: AsyncSession,
    *,
    scope_keys: Sequence[str],
    kinds: Sequence[IncidentKind],
    how: str,
    now: datetime,
    actor: str,
) -> list[Incident]:
    """Close every open incident of these scopes and kinds; returns the ones closed."""
    closed = list(await repository.open_incidents_of(session, scope_keys, kinds))
    for incident in closed:
        incident.closed_at = now
        incident.closed_how = how
        audit.record(
            session,
            organization_id=incident.organization_id,
            actor=actor,
            action="incident.closed",
            subject_type="incident",
            subject_id=incident.id,
            from_value=incident.kind,
            to_value=how,
            scope=incident.scope_key,
        )
        await publish(session, IncidentClosed(incident, now))
    await session.flush()
    return closed
