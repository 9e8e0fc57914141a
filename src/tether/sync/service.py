"""Loading connections' daily metrics: every missing day of the history window, oldest first,
and the last few days again, since providers restate them."""

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tether import metrics
from tether.db import utcnow
from tether.errors import Unprocessable
from tether.health import status
from tether.health.checks import Engine
from tether.health.classify import Verdict, backoff, observe
from tether.kit.locks_repository import locked
from tether.models import Authorization
from tether.providers.base import ProviderCallError, Reason
from tether.sync import limits as sync_limits
from tether.sync import repository
from tether.sync import store_repository as store
from tether.sync.days import calls, today
from tether.sync.plan import Plan, Skip, plan_many, sealed_of

log = logging.getLogger(__name__)
SYNC = "tether:sync"
# The longest range a person may ask to load at once (ten years).
MAX_REQUEST_DAYS = 3660


@dataclass(frozen=True, slots=True)
class SyncResult:
    connection_id: uuid.UUID
    outcome: str  # "synced", "failed", "skipped" or "deferred" (no slot free: due again soon)
    days_loaded: int = 0
    rows: int = 0
    lost_days: int = 0
    error: str | None = None
    reason: str | None = None


async def sync_connection(
    engine: Engine,
    connection_id: uuid.UUID,
    *,
    start: date | None = None,
    end: date | None = None,
    actor: str = SYNC,
    limits: sync_limits.Limits | None = None,
) -> SyncResult:
    """Load one connection's metrics: the given range, or whatever its history window lacks.

    Each provider call takes a slot of the authorization's and the provider's budget
    (`sync/limits.py`); when every worker's slots are taken the connection is due again in a
    few seconds and the days loaded so far are kept."""
    budget = limits or sync_limits.for_settings(engine.settings)
    async with engine.sessions.begin() as session:
        plans = await plan_many(
            session,
            engine.settings,
            engine.registry.reports_of,
            [connection_id],
            utcnow(),
            start,
            end,
        )
    synced: list[tuple[Plan, datetime]] = []
    result = await _load(engine, plans[connection_id], budget, actor, start is None, synced)
    await _mark_synced(engine, synced)
    return result


async def _load(
    engine: Engine,
    plan: Plan | Skip,
    budget: sync_limits.Limits,
    actor: str,
    regular: bool,
    synced: list[tuple[Plan, datetime]],
) -> SyncResult:
    """Load the plan's days (`_fetch`), counted by outcome once what it wrote has committed;
    a skipped plan is no sync."""
    if isinstance(plan, Skip):
        return SyncResult(plan.connection_id, "skipped", error=plan.error)
    result = await _fetch(engine, plan, budget, actor, regular, synced)
    metrics.SYNCS.labels(plan.provider, result.outcome, result.reason or "").inc()
    return result


async def _fetch(
    engine: Engine,
    plan: Plan,
    budget: sync_limits.Limits,
    actor: str,
    regular: bool,
    synced: list[tuple[Plan, datetime]],
) -> SyncResult:
    """Ask the provider for the plan's days, call by call, and store each call's days; the
    last call's are stored with the success, which is also added to `synced`."""
    connection_id, now = plan.connection_id, utcnow()
    adapter = engine.registry.adapter(plan.provider)
    loaded = rows = lost = 0
    pieces = calls(plan.ranges, plan.days_per_call)
    for n, piece in enumerate(pieces):
        try:
            async with budget.slot(plan.provider, plan.authorization_id) as free:
                if not free:
                    await _deferred(engine, connection_id)
                    return SyncResult(connection_id, "deferred", loaded, rows, lost)
                served = await adapter.fetch_daily(
                    plan.credentials,
                    account_id=plan.account_external_id,
                    start=piece.start,
                    end=piece.end,
                    manager_id=plan.manager_external_id,
                )
        except ProviderCallError as error:
            await _failed(engine, plan, error, actor)
            return SyncResult(
                connection_id, "failed", loaded, rows, lost, error.message, error.reason.value
            )
        synced_at = utcnow() if n == len(pieces) - 1 else None
        async with engine.sessions.begin() as session:
            saved = await store.save(
                session, plan, piece, served, now, synced_at=synced_at, regular=regular
            )
        if saved is None:  # deleted or switched meanwhile
            return SyncResult(connection_id, "synced", loaded, rows, lost)
        written, newly_lost = saved
        loaded, rows, lost = loaded + len(written), rows + len(written), lost + newly_lost
        if synced_at is not None:
            synced.append((plan, synced_at))
    if not pieces:
        synced_at = utcnow()
        async with engine.sessions.begin() as session:
            if await store.record(session, plan, synced_at, regular=regular):
                synced.append((plan, synced_at))
    return SyncResult(connection_id, "synced", loaded, rows, lost)


async def _mark_synced(engine: Engine, synced: Sequence[tuple[Plan, datetime]]) -> None:
    if synced:
        async with engine.sessions.begin() as session:
            await store.mark_synced(session, synced)


async def _failed(engine: Engine, plan: Plan, error: ProviderCallError, actor: str) -> None:
    """Record the provider's refusal. A lapse is a lapse however it was found: recorded on the
    authorization like a check's (incident, notifications); anything else waits and retries."""
    settings = engine.settings
    async with engine.sessions.begin() as session:
        # The authorization first, as every writer locks them (see `kit.locks_repository`).
        a = await locked(session, Authorization, plan.authorization_id)
        c = await repository.get_connection(session, plan.connection_id)
        if a is None or c is None or c.account_id != plan.account_id:
            return  # deleted or switched meanwhile: the refusal is about what it was
        now = utcnow()
        seen = observe(error)
        if seen.verdict == Verdict.LAPSE and sealed_of(a) != plan.sealed:
            # Refreshed or reconnected since the plan was read: try again with what it holds.
            c.next_sync_at = now + timedelta(seconds=sync_limits.BUSY_RETRY_SECONDS)
            return
        c.sync_error, c.sync_failures = error.message, c.sync_failures + 1
        # An access token that ended early is the health engine's to refresh, not a lapse.
        refreshable = error.reason == Reason.TOKEN_EXPIRED and a.refresh_token is not None
        if seen.verdict == Verdict.LAPSE and not refreshable:
            c.next_sync_at = now + plan.interval
            if error.reason == Reason.ACCESS_REMOVED:
                account = await repository.get_account(session, plan.account_id)
                assert account is not None
                await status.lose_account(
                    session, a, account, message=error.message, now=now, actor=actor
                )
            else:
                await status.record(session, a, seen, status.Context(settings, now, actor))
        else:
            if refreshable:
                a.next_check_at = now
            c.next_sync_at = now + backoff(c.sync_failures, settings, seen.retry_after)


async def _deferred(engine: Engine, connection_id: uuid.UUID) -> None:
    """Every worker's budget for this authorization or provider is taken: try again soon."""
    async with engine.sessions.begin() as session:
        c = await repository.get_connection(session, connection_id)
        if c is not None:
            c.next_sync_at = utcnow() + timedelta(seconds=sync_limits.BUSY_RETRY_SECONDS)


async def sync_many(
    engine: Engine,
    ids: Sequence[uuid.UUID],
    *,
    concurrency: int = 8,
    limits: sync_limits.Limits | None = None,
) -> Counter[str]:
    """Sync several connections at once, each failure isolated, with at most
    `sync_authorization_concurrency` syncs per authorization running in this process (their
    calls also share the budgets of `sync/limits.py`). Their plans are read together first,
    and their accounts and authorizations are marked synced together at the end."""
    budget = limits or sync_limits.for_settings(engine.settings)
    counts: Counter[str] = Counter()
    try:
        async with engine.sessions.begin() as session:
            plans = await plan_many(
                session, engine.settings, engine.registry.reports_of, ids, utcnow()
            )
    except Exception:
        log.error("Could not plan a batch of syncs", exc_info=True)
        counts["error"] += len(ids)
        return counts
    gate = asyncio.Semaphore(concurrency)
    per_authorization = {
        p.authorization_id: asyncio.Semaphore(
            max(1, engine.settings.sync_authorization_concurrency)
        )
        for p in plans.values()
        if isinstance(p, Plan)
    }
    synced: list[tuple[Plan, datetime]] = []

    async def one(connection_id: uuid.UUID) -> None:
        plan = plans[connection_id]
        if isinstance(plan, Skip):
            counts["skipped"] += 1
            return
        async with per_authorization[plan.authorization_id], gate:
            try:
                result = await _load(engine, plan, budget, SYNC, True, synced)
                counts[result.outcome] += 1
            except Exception:  # one broken connection must not stop the others
                counts["error"] += 1
                raise

    results = await asyncio.gather(*(one(i) for i in ids), return_exceptions=True)
    try:
        await _mark_synced(engine, synced)
    except Exception as error:  # the connections' own syncs are recorded already
        results.append(error)
    for result in results:
        if isinstance(result, Exception):
            log.error("A sync failed unexpectedly", exc_info=result)
    return counts


def check_range(start: date | None, end: date | None, now: datetime) -> None:
    """Refuse a range a person asked for that makes no sense, in words they understand."""
    if start is None and end is not None:
        raise Unprocessable("Give a start date with the end date.", code="invalid_range")
    if start is None:
        return
    last = end or today(now)
    if last < start:
        raise Unprocessable("The end date is before the start date.", code="invalid_range")
    if start > today(now):
        raise Unprocessable("The start date is in the future.", code="invalid_range")
    if (last - start).days + 1 > MAX_REQUEST_DAYS:
        raise Unprocessable(
            f"A range may span at most {MAX_REQUEST_DAYS} days.", code="invalid_range"
        )
