"""The data sync's actors."""

import uuid

from tether import runtime
from tether.sync import requests, schedule, service
from tether.sync.schedule import SYNC_ACTOR
from tether.worker import due
from tether.worker.actor import actor

due.register("sync.syncs", schedule.SYNCS.take_due)
due.register("sync.requests", requests.REQUESTS.take_due)


@actor(SYNC_ACTOR, time_limit=30 * 60 * 1000)
async def sync_connections(ids: list[str]) -> None:
    """Sync a batch of connections, concurrently, each failure isolated."""
    engine = runtime.current().health
    await service.sync_many(engine, [uuid.UUID(i) for i in ids])


@actor(requests.RUN_ACTOR, time_limit=30 * 60 * 1000)
async def run_sync_requests(ids: list[str]) -> None:
    """Run syncs someone asked for, one after the other."""
    await requests.run_requests(runtime.current().health, ids)
