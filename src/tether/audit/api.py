"""/api/v1/audit: who changed what, when."""

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter

from tether.audit import service
from tether.deps import CurrentActor, SessionDep
from tether.kit.inputs import Cursor, Limit, TextFilter
from tether.kit.schemas import ListOf, Schema

router = APIRouter(tags=["audit"])


class AuditEventRead(Schema):
    id: uuid.UUID
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    from_value: str | None
    to_value: str | None
    details: dict[str, Any]


@router.get("/audit")
async def list_audit(
    session: SessionDep,
    actor: CurrentActor,
    subject_type: TextFilter = None,
    subject_id: TextFilter = None,
    action: TextFilter = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> ListOf[AuditEventRead]:
    """The organization's audit log, newest first (admins only)."""
    actor.require_admin("read the audit log")
    page = await service.list_events(
        session,
        actor=actor,
        subject_type=subject_type,
        subject_id=subject_id,
        action=action,
        cursor=cursor,
        limit=limit,
    )
    return ListOf(
        data=[AuditEventRead.model_validate(e) for e in page.items], next_cursor=page.next_cursor
    )
