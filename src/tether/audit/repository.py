"""SQL for the audit log."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.models import AuditEvent, Authorization, Connection, Incident


async def page(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    subject_type: str | None,
    subject_id: str | None,
    action: str | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
    who: str | None = None,
) -> Sequence[AuditEvent]:
    """Newest first, for one organization."""
    stmt = select(AuditEvent).where(AuditEvent.organization_id == organization_id)
    if subject_type:
        stmt = stmt.where(AuditEvent.subject_type == subject_type)
    if subject_id:
        stmt = stmt.where(AuditEvent.subject_id == subject_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if who:
        stmt = stmt.where(AuditEvent.actor == who)
    if before is not None:
        at, event_id = before
        stmt = stmt.where(
            (AuditEvent.at < at) | ((AuditEvent.at == at) & (AuditEvent.id < event_id))
        )
    stmt = stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit + 1)
    return (await session.scalars(stmt)).all()


# Names for the subjects of a page of entries, one query per kind of subject.


async def authorization_names(
    session: AsyncSession, organization_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str]]:
    """Each authorization's provider and who it signs in as."""
    stmt = select(Authorization.id, Authorization.provider, Authorization.external_user_name)
    stmt = stmt.where(Authorization.organization_id == organization_id, Authorization.id.in_(ids))
    return {row[0]: (row[1], row[2]) for row in (await session.execute(stmt)).all()}


async def connection_names(
    session: AsyncSession, organization_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str, str]]:
    """Each connection's client, account name and provider."""
    stmt = select(
        Connection.id, Connection.client_name, Connection.account_name, Connection.provider
    ).where(Connection.organization_id == organization_id, Connection.id.in_(ids))
    return {row[0]: (row[1], row[2], row[3]) for row in (await session.execute(stmt)).all()}


async def incident_names(
    session: AsyncSession, organization_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str, str]]:
    """Each incident's kind, scope and provider."""
    stmt = select(Incident.id, Incident.kind, Incident.scope, Incident.provider).where(
        Incident.organization_id == organization_id, Incident.id.in_(ids)
    )
    return {row[0]: (row[1], row[2], row[3]) for row in (await session.execute(stmt)).all()}
