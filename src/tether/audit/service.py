"""The audit log: every change of status, incident, or setting, with who made it."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tether.audit import repository
from tether.db import utcnow
from tether.kit.pagination import Page, Sort, decode_cursor, paginate
from tether.members.actor import Actor
from tether.models import AuditEvent

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
    )
    return paginate(rows, sort=_NEWEST_FIRST, limit=limit, key="at")
