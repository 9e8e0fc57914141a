"""The connections' background work: folding the counts' pending changes at each scheduler
pass (models/connection_count.py)."""

import logging
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from tether.config import Settings
from tether.connections import counts_repository
from tether.worker import due
from tether.worker.job import Job

log = logging.getLogger(__name__)


async def fold_counts(session: AsyncSession, _now: datetime, _settings: Settings) -> list[Job]:
    """Done in the scheduler's own transaction, under a savepoint: a fold that fails leaves the
    changes pending (counts read them too) and the rest of the pass goes on. No job to send."""
    try:
        async with session.begin_nested():
            await counts_repository.fold(session)
    except DBAPIError:
        log.exception("Folding the connection counts failed; the next pass tries again")
    return []


due.register("connections.counts", fold_counts)
