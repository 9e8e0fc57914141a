"""Syncs someone asked for ("sync now"): queued as a job, run by a worker, followed by id.

A sync can take many provider calls (years of history, a provider's rate limits), far longer
than a request should wait, so asking only queues it: a `SyncRequest` row, due at once, that
the scheduler hands to `RUN_ACTOR` at its next pass (`worker/queue.py`). The answer names the
request, and `GET /api/v1/syncs/{id}` tells how it went.

A connection has at most one request queued or running: asking again for the same days answers
with that one, and asking for other days meanwhile is a conflict. A worker claims a request
before running it, so two workers never run one; a run that fails unexpectedly (not a refusal
of the provider, which is an outcome) is tried again with back-off, and abandoned after
`RETRIES.max_attempts` tries.
"""

import logging
import uuid
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.connections.service import get_connection
from tether.db import utcnow
from tether.errors import Conflict, NotFound
from tether.health.checks import Engine
from tether.kit.backoff import Backoff
from tether.models import Connection, SyncRequest
from tether.sync import limits as sync_limits
from tether.sync import request_repository as repository
from tether.sync.service import SYNC, check_range, sync_connection
from tether.worker import queue
from tether.worker.queue import DueWork, Retries

log = logging.getLogger(__name__)

RUN_ACTOR = "sync.run_requests"
# A few per job: each may load years of days.
REQUESTS = DueWork(RUN_ACTOR, repository.ROWS.due, repository.ROWS.hand_out, batch=5)
RETRIES = Retries(
    Backoff(timedelta(seconds=30), timedelta(minutes=10), jitter=(0.8, 1.2)), max_attempts=5
)
FAILED_UNEXPECTEDLY = "The sync failed unexpectedly; Tether's log tells why."


class Asked(NamedTuple):
    """A sync someone asked for, and the connection it loads (read for the visibility check)."""

    request: SyncRequest
    connection: Connection


class RequestStatus(StrEnum):
    QUEUED = "queued"  # waiting for a worker (or for its next try)
    RUNNING = "running"
    FINISHED = "finished"  # see its outcome: synced, failed (the provider refused) or skipped
    ABANDONED = "abandoned"  # failed unexpectedly too many times


def status_of(request: SyncRequest) -> RequestStatus:
    if request.finished_at is not None:
        return RequestStatus.FINISHED
    if request.abandoned_at is not None:
        return RequestStatus.ABANDONED
    if request.attempts and request.last_error is None:
        return RequestStatus.RUNNING
    return RequestStatus.QUEUED


async def request_sync(
    session: AsyncSession,
    *,
    actor: Actor,
    connection_id: uuid.UUID,
    start: date | None = None,
    end: date | None = None,
) -> Asked:
    """Queue a sync of these days (without them, whatever the history window lacks), or answer
    with the one already queued for the same days."""
    actor.require_writer("sync connections")
    connection = await get_connection(session, actor=actor, connection_id=connection_id)
    now = utcnow()
    check_range(start, end, now)
    pending = await repository.pending_for(session, connection.id)
    if pending is not None:
        if (pending.start, pending.end) == (start, end):
            return Asked(pending, connection)
        raise Conflict(
            "A sync of other days is already queued for this connection; "
            "ask again once it has finished.",
            code="sync_queued",
        )
    request = SyncRequest(
        organization_id=actor.organization_id,
        connection_id=connection.id,
        requested_by_id=actor.member_id,
        start=start,
        end=end,
        requested_at=now,
        due_at=now,
    )
    session.add(request)
    await session.flush()
    return Asked(request, connection)


async def get_request(session: AsyncSession, *, actor: Actor, request_id: uuid.UUID) -> Asked:
    """A sync asked for on a connection the actor sees."""
    request = await repository.get(session, request_id)
    if request is None or request.organization_id != actor.organization_id:
        raise NotFound("No such sync.")
    try:
        connection = await get_connection(session, actor=actor, connection_id=request.connection_id)
    except NotFound:
        raise NotFound("No such sync.") from None
    return Asked(request, connection)


async def run_requests(engine: Engine, ids: list[str]) -> None:
    """Run these requests that are still pending and not held by another worker, one after
    the other; each records what came of it in a transaction of its own."""
    held = queue.holds(utcnow(), engine.settings)
    async with engine.sessions.begin() as session:
        claimed = await repository.ROWS.claim(
            session,
            [uuid.UUID(i) for i in ids],
            claimable_until=held.claimable_until,
            until=held.until,
        )
        requests = await repository.of_ids(session, list(claimed)) if claimed else []
    for request in requests:
        await _run(engine, request)


async def _run(engine: Engine, request: SyncRequest) -> None:
    who = f"member:{request.requested_by_id}" if request.requested_by_id else SYNC
    try:
        result = await sync_connection(
            engine, request.connection_id, start=request.start, end=request.end, actor=who
        )
    except Exception:
        log.exception("Sync request %s failed unexpectedly", request.id)
        await _failed(engine, request, utcnow())
        return
    async with engine.sessions.begin() as session:
        now = utcnow()
        if result.outcome == "deferred":
            # Every slot of its provider was taken: not a failure, only a wait.
            busy = now + timedelta(seconds=sync_limits.BUSY_RETRY_SECONDS)
            await repository.ROWS.mark_failed(session, [request.id], "Waiting for a slot.", busy)
            return
        await repository.ROWS.mark_done(
            session,
            [request.id],
            now,
            outcome=result.outcome,
            days_loaded=result.days_loaded,
            rows=result.rows,
            lost_days=result.lost_days,
            error=result.error,
            reason=result.reason,
        )


async def _failed(engine: Engine, request: SyncRequest, now: datetime) -> None:
    retry_at = RETRIES.next_try(request.attempts, now)
    async with engine.sessions.begin() as session:
        if retry_at is None:
            await repository.ROWS.mark_abandoned(session, [request.id], FAILED_UNEXPECTEDLY, now)
        else:
            await repository.ROWS.mark_failed(session, [request.id], FAILED_UNEXPECTEDLY, retry_at)
