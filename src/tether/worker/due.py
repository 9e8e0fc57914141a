"""Where the scheduler finds due work: each domain registers how to take what is due.

A domain's `tasks.py` calls `register` at import with its `take_due`, as it declares its
actors; `tether.jobs` imports every such module. The scheduler asks each registered source in
turn, so the worker knows no domain by name.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from tether.config import Settings
from tether.worker.job import Job

log = logging.getLogger(__name__)

# What is due now, handed out in the scheduler's transaction: jobs to send once it commits.
TakeDue = Callable[[AsyncSession, datetime, Settings], Awaitable[list[Job]]]
_sources: dict[str, TakeDue] = {}


def register(name: str, take_due: TakeDue) -> TakeDue:
    """Have the scheduler ask `take_due` for due work at every pass, under `name`."""
    _sources[name] = take_due
    return take_due


def sources() -> dict[str, TakeDue]:
    """Every registered source by name, in the order they were registered."""
    if not _sources:
        raise RuntimeError("No due work is registered: import tether.jobs before scheduling.")
    return dict(_sources)


def register_fold(name: str, fold: Callable[[AsyncSession], Awaitable[int]]) -> TakeDue:
    """Have the scheduler run `fold` (kept counts' pending changes folded in) at every pass, in
    the pass's transaction under a savepoint: a fold that fails leaves the changes pending
    (counts read them too) and the rest of the pass goes on. No job to send."""

    async def take_due(session: AsyncSession, _now: datetime, _settings: Settings) -> list[Job]:
        try:
            async with session.begin_nested():
                await fold(session)
        except DBAPIError:
            log.exception("Folding %s failed; the next pass tries again", name)
        return []

    return register(name, take_due)
