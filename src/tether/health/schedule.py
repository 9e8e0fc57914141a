"""What the health engine has due: authorizations whose next check (or refresh) time came."""

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tether.config import Settings
from tether.health import repository
from tether.worker.job import Job

CHECK_ACTOR = "health.check_authorizations"
BATCH = 50


async def take_due(session: AsyncSession, now: datetime, settings: Settings) -> list[Job]:
    """Due checks, marked as handed out in this transaction; a lost job is due again later."""
    ids = await repository.due_authorization_ids(session, now, settings.scheduler_batch)
    await repository.postpone(
        session, ids, now + timedelta(seconds=settings.dispatch_timeout_seconds)
    )
    return [
        Job(
            CHECK_ACTOR,
            ([str(i) for i in ids[start : start + BATCH]],),
            len(ids[start : start + BATCH]),
        )
        for start in range(0, len(ids), BATCH)
    ]
