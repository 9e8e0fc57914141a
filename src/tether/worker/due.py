"""Where the scheduler finds due work: each domain registers how to take what is due.

A domain's `tasks.py` calls `register` at import with its `take_due`, as it declares its
actors; `tether.jobs` imports every such module. The scheduler asks each registered source in
turn, so the worker knows no domain by name.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tether.config import Settings
from tether.worker.job import Job

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
