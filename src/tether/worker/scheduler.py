"""The scheduler: finds due work in the database and hands it to the queue."""

import asyncio
import contextlib
import logging
import os
import socket
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tether.config import Settings
from tether.db import utcnow
from tether.worker import actor, due
from tether.worker import leadership_repository as leadership

log = logging.getLogger(__name__)
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


async def tick(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """One pass: if this process leads, hand out everything due. Returns how many items."""
    now = utcnow()
    ttl = timedelta(seconds=max(10.0, settings.scheduler_tick_seconds * 5))
    # One transaction: what is handed out commits together, and on PostgreSQL the lock that
    # makes this process the leader is held until it ends.
    async with sessions.begin() as session:
        if not await leadership.try_lead(
            session, name="scheduler", holder=HOLDER, now=now, ttl=ttl
        ):
            return 0
        jobs = [
            job
            for take_due in due.sources().values()
            for job in await take_due(session, now, settings)
        ]
    for job in jobs:
        actor.send(job.actor, *job.args)
    return sum(job.size for job in jobs)


async def run(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, stop: asyncio.Event
) -> None:
    """Tick until told to stop; a failed tick is logged and the next one tries again."""
    while not stop.is_set():
        try:
            await tick(sessions, settings)
        except Exception:
            log.exception("The scheduler's pass failed; retrying at the next tick")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.scheduler_tick_seconds)
