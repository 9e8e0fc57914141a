"""SQL for syncs someone asked for: each row is due work (`kit/due_repository.DueRows`)."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.kit.due_repository import DueRows
from tether.models import SyncRequest

ROWS = DueRows(
    SyncRequest,
    due_at=SyncRequest.due_at,
    attempts=SyncRequest.attempts,
    done_at=SyncRequest.finished_at,
    abandoned_at=SyncRequest.abandoned_at,
    last_error=SyncRequest.last_error,
)


async def pending_for(session: AsyncSession, connection_id: uuid.UUID) -> SyncRequest | None:
    """The connection's request still queued or running, if any (there is at most one)."""
    stmt = select(SyncRequest).where(SyncRequest.connection_id == connection_id, ROWS.pending())
    return (await session.scalars(stmt.limit(1))).first()


async def get(session: AsyncSession, request_id: uuid.UUID) -> SyncRequest | None:
    return await session.get(SyncRequest, request_id, populate_existing=True)


async def of_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[SyncRequest]:
    stmt = select(SyncRequest).where(SyncRequest.id.in_(ids)).order_by(SyncRequest.requested_at)
    return list((await session.scalars(stmt)).all())
