"""The health engine's actors."""

import uuid

from tether import runtime
from tether.health import checks, schedule
from tether.health.schedule import CHECK_ACTOR
from tether.worker import due
from tether.worker.actor import actor

due.register("health.checks", schedule.CHECKS.take_due)


@actor(CHECK_ACTOR, time_limit=15 * 60 * 1000)
async def check_authorizations(ids: list[str]) -> None:
    """Check a batch of authorizations, concurrently, each failure isolated."""
    engine = runtime.current().health
    ids_ = [uuid.UUID(i) for i in ids]
    await checks.check_many(engine, ids_, concurrency=engine.settings.check_concurrency)
