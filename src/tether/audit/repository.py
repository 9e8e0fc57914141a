"""SQL for the audit log."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.models import AuditEvent


async def page(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    subject_type: str | None,
    subject_id: str | None,
    action: str | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[AuditEvent]:
    """Newest first, for one organization."""
    stmt = select(AuditEvent).where(AuditEvent.organization_id == organization_id)
    if subject_type:
        stmt = stmt.where(AuditEvent.subject_type == subject_type)
    if subject_id:
        stmt = stmt.where(AuditEvent.subject_id == subject_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if before is not None:
        at, event_id = before
        stmt = stmt.where(
            (AuditEvent.at < at) | ((AuditEvent.at == at) & (AuditEvent.id < event_id))
        )
    stmt = stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit + 1)
    return (await session.scalars(stmt)).all()
