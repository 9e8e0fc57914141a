"""Background work inside the web process: the scheduler always (it leads only if no other
process does), and a worker too when there is no broker to share work through."""

import asyncio
from dataclasses import dataclass, field

import dramatiq
from dramatiq.brokers.stub import StubBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tether.config import Settings
from tether.worker import actor, broker, scheduler


@dataclass
class Background:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    # Run on the jobs' event loop when the in-process worker stops (closes what jobs opened).
    on_shutdown: broker.Closer | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    worker: dramatiq.Worker | None = None
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        bound = broker.setup(self.settings, on_shutdown=self.on_shutdown)
        actor.declare(bound)
        if isinstance(bound, StubBroker):
            self.worker = dramatiq.Worker(
                bound, worker_threads=self.settings.worker_threads, worker_timeout=100
            )
            self.worker.start()
        self.task = asyncio.create_task(
            scheduler.run(self.sessions, self.settings, self.stop_event)
        )

    async def stop(self) -> None:
        self.stop_event.set()
        if self.task is not None:
            await self.task
        if self.worker is not None:
            grace_ms = self.settings.shutdown_grace_seconds * 1000
            await asyncio.to_thread(self.worker.stop, grace_ms)
