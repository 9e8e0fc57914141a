"""Loading connections' daily metrics: every missing day of the history window, oldest first,
and the last few days again, since providers restate them."""

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tether.authorizations.service import credentials_of
from tether.config import Settings
from tether.db import utcnow
from tether.errors import TetherError, Unprocessable
from tether.health import status
from tether.health.checks import Engine
from tether.health.classify import Verdict, backoff, observe
from tether.models import Connection, LostDay, MetricDay, Status
from tether.providers.base import Credentials, DailyMetrics, ProviderCallError, Reason
from tether.sync import limits as sync_limits
from tether.sync import repository
from tether.sync.days import DayRange, calls, history_window, runs, today

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


@dataclass(frozen=True, slots=True)
class _Plan:
    provider: str
    authorization_id: uuid.UUID
    account_external_id: str
    currency: str | None
    credentials: Credentials
    ranges: list[DayRange]
    # Days from here on are asked again next time rather than declared lost if not served.
    settled_before: date


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
    now = utcnow()
    budget = limits or sync_limits.for_settings(engine.settings)
    async with engine.sessions() as session:
        plan = await _plan(session, engine.settings, connection_id, now, start, end)
        await session.commit()
    if isinstance(plan, SyncResult):
        return plan
    adapter = engine.registry.adapter(plan.provider)
    loaded = rows = lost = 0
    for piece in calls(plan.ranges):
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
                )
        except ProviderCallError as error:
            await _failed(engine, connection_id, error, actor)
            return SyncResult(
                connection_id, "failed", loaded, rows, lost, error.message, error.reason.value
            )
        async with engine.sessions() as session:
            written, newly_lost = await _store(session, connection_id, piece, served, plan, now)
            await session.commit()
        loaded, rows, lost = loaded + len(written), rows + len(written), lost + newly_lost
    async with engine.sessions() as session:
        await _succeeded(session, engine.settings, connection_id, utcnow(), regular=start is None)
        await session.commit()
    return SyncResult(connection_id, "synced", loaded, rows, lost)


async def _plan(
    session: AsyncSession,
    settings: Settings,
    connection_id: uuid.UUID,
    now: datetime,
    start: date | None,
    end: date | None,
) -> _Plan | SyncResult:
    c = await repository.get_connection(session, connection_id)
    if c is None:
        return SyncResult(connection_id, "skipped", error="The connection no longer exists.")
    a = await repository.get_authorization(session, c.authorization_id)
    account = await repository.get_account(session, c.account_id)
    assert a is not None  # an authorization and an account outlive their connections
    assert account is not None
    if c.status in (Status.DISCONNECTED, Status.NEEDS_RECONNECT) or (
        a.status == Status.NEEDS_RECONNECT
    ):
        # Nothing to load until someone reconnects; the backfill makes it due again then.
        c.next_sync_at = now + _interval(c, settings)
        why = "disconnected" if c.status == Status.DISCONNECTED else "waiting for a reconnect"
        return SyncResult(connection_id, "skipped", error=f"The connection is {why}.")
    try:
        credentials = credentials_of(a)
    except TetherError as error:
        return SyncResult(connection_id, "skipped", error=error.message)
    last = today(now)
    if start is not None:
        ranges = [DayRange(start, min(end or last, last))]
    else:
        ranges = await _missing(session, settings, c, now)
    settled = last - timedelta(days=max(1, settings.sync_restate_days) - 1)
    currency = account.currency
    return _Plan(c.provider, a.id, c.account_external_id, currency, credentials, ranges, settled)


async def _missing(
    session: AsyncSession, settings: Settings, c: Connection, now: datetime
) -> list[DayRange]:
    """Every day of the window neither loaded nor lost, and the restated days again."""
    window = history_window(now, settings.sync_history_days)
    loaded = (await repository.days_of(session, MetricDay, [c.id], window.start, window.end))[c.id]
    lost = (await repository.days_of(session, LostDay, [c.id], window.start, window.end))[c.id]
    restated = (
        window.each()[-settings.sync_restate_days :] if settings.sync_restate_days > 0 else []
    )
    wanted = {d for d in window.each() if d not in loaded} | set(restated)
    return runs(wanted - lost)


async def _store(
    session: AsyncSession,
    connection_id: uuid.UUID,
    piece: DayRange,
    served: Sequence[DailyMetrics],
    plan: _Plan,
    now: datetime,
) -> tuple[list[date], int]:
    """Write what one call returned; past days it did not return are lost. Returns the days
    written and how many days were newly found lost."""
    if await repository.get_connection(session, connection_id) is None:
        return [], 0  # deleted meanwhile
    rows = {
        m.day: {
            "connection_id": connection_id,
            "day": m.day,
            "impressions": m.impressions,
            "clicks": m.clicks,
            "conversions": m.conversions,
            "spend": m.spend,
            "currency": m.currency or plan.currency,
            "loaded_at": now,
        }
        for m in served
        if piece.start <= m.day <= piece.end
    }
    await repository.upsert_days(session, list(rows.values()))
    await repository.forget_lost_days(session, connection_id, list(rows))
    known = (await repository.days_of(session, LostDay, [connection_id], piece.start, piece.end))[
        connection_id
    ]
    lost = [d for d in piece.each() if d not in rows and d < plan.settled_before and d not in known]
    await repository.add_lost_days(session, connection_id, lost, "not_served")
    return sorted(rows), len(lost)


async def _succeeded(
    session: AsyncSession,
    settings: Settings,
    connection_id: uuid.UUID,
    now: datetime,
    *,
    regular: bool,
) -> None:
    c = await repository.get_connection(session, connection_id)
    if c is None:
        return
    c.last_synced_at, c.sync_error, c.sync_failures = now, None, 0
    if regular or c.next_sync_at is None:
        # A range someone asked for is extra: it does not move the regular sync.
        c.next_sync_at = now + _interval(c, settings)
    account = await repository.get_account(session, c.account_id)
    a = await repository.get_authorization(session, c.authorization_id)
    for synced in (account, a):
        if synced is not None:
            synced.last_synced_at = now


async def _failed(
    engine: Engine, connection_id: uuid.UUID, error: ProviderCallError, actor: str
) -> None:
    """Record the provider's refusal. A lapse is a lapse however it was found: recorded on the
    authorization like a check's (incident, notifications); anything else waits and retries."""
    settings = engine.settings
    async with engine.sessions() as session:
        c = await repository.get_connection(session, connection_id)
        if c is None:
            return
        a = await repository.get_authorization(session, c.authorization_id)
        assert a is not None
        now = utcnow()
        seen = observe(error)
        c.sync_error, c.sync_failures = error.message, c.sync_failures + 1
        # An access token that ended early is the health engine's to refresh, not a lapse.
        refreshable = error.reason == Reason.TOKEN_EXPIRED and a.refresh_token is not None
        if seen.verdict == Verdict.LAPSE and not refreshable:
            c.next_sync_at = now + _interval(c, settings)
            if error.reason == Reason.ACCESS_REMOVED:
                account = await repository.get_account(session, c.account_id)
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
        await session.commit()


async def _deferred(engine: Engine, connection_id: uuid.UUID) -> None:
    """Every worker's budget for this authorization or provider is taken: try again soon."""
    async with engine.sessions() as session:
        c = await repository.get_connection(session, connection_id)
        if c is not None:
            c.next_sync_at = utcnow() + timedelta(seconds=sync_limits.BUSY_RETRY_SECONDS)
            await session.commit()


def _interval(c: Connection, settings: Settings) -> timedelta:
    return timedelta(hours=c.sync_interval_hours or settings.sync_interval_hours)


async def sync_many(
    engine: Engine,
    ids: Sequence[uuid.UUID],
    *,
    concurrency: int = 8,
    limits: sync_limits.Limits | None = None,
) -> Counter[str]:
    """Sync several connections at once, each failure isolated, with at most
    `sync_authorization_concurrency` syncs per authorization running in this process (their
    calls also share the budgets of `sync/limits.py`)."""
    budget = limits or sync_limits.for_settings(engine.settings)
    async with engine.sessions() as session:
        owners = await repository.authorization_ids_of(session, ids)
    gate = asyncio.Semaphore(concurrency)
    per_authorization = {
        a: asyncio.Semaphore(max(1, engine.settings.sync_authorization_concurrency))
        for a in set(owners.values())
    }
    counts: Counter[str] = Counter()

    async def one(connection_id: uuid.UUID) -> None:
        owner = owners.get(connection_id)
        if owner is None:
            counts["skipped"] += 1
            return
        async with per_authorization[owner], gate:
            try:
                result = await sync_connection(engine, connection_id, limits=budget)
                counts[result.outcome] += 1
            except Exception:  # one broken connection must not stop the others
                counts["error"] += 1
                raise

    results = await asyncio.gather(*(one(i) for i in ids), return_exceptions=True)
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


async def sync_now(
    engine: Engine,
    *,
    member_id: uuid.UUID,
    connection_id: uuid.UUID,
    start: date | None = None,
    end: date | None = None,
) -> SyncResult:
    """Sync one connection at once (visibility checked by the caller)."""
    check_range(start, end, utcnow())
    return await sync_connection(
        engine, connection_id, start=start, end=end, actor=f"member:{member_id}"
    )
