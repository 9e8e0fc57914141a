"""What the sync has due: connections whose next load time came."""

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tether.config import Settings
from tether.sync import repository
from tether.worker.job import Job

SYNC_ACTOR = "sync.sync_connections"
BATCH = 20


async def take_due(session: AsyncSession, now: datetime, settings: Settings) -> list[Job]:
    """Due syncs, marked as handed out in this transaction; a lost job is due again later."""
    ids = await repository.due_connection_ids(session, now, settings.scheduler_batch)
    await repository.postpone(
        session, ids, now + timedelta(seconds=settings.dispatch_timeout_seconds)
    )
    return [
        Job(
            SYNC_ACTOR,
            ([str(i) for i in ids[start : start + BATCH]],),
            len(ids[start : start + BATCH]),
        )
        for start in range(0, len(ids), BATCH)
    ]
