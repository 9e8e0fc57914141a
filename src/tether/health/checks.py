"""Checking an authorization: refresh if due, probe, look at its accounts, record the verdict."""

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tether import metrics
from tether.audit import service as audit
from tether.authorizations.service import credentials_of
from tether.config import Settings
from tether.db import utcnow
from tether.health import repository, status
from tether.health.classify import OK, Observation, Verdict, observe
from tether.health.incidents import authorization_key
from tether.health.refresh import Refresh, needs_refresh, refresh
from tether.kit.locks_repository import all_locked, locked
from tether.models import Authorization, IncidentKind, Status
from tether.providers.base import ExternalAccount, ProviderCallError, Reason
from tether.providers.registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Engine:
    """What a check needs: the database, the provider adapters, the settings."""

    sessions: async_sessionmaker[AsyncSession]
    registry: Registry
    settings: Settings


async def check(
    engine: Engine,
    authorization_id: uuid.UUID,
    *,
    accounts: bool | None = None,
    actor: str = audit.HEALTH,
) -> str | None:
    """Check one authorization and record what was seen; returns its status afterwards."""
    seen, reachable = await _observe(engine, authorization_id, accounts)
    if seen is None:
        return None
    return await _record(engine, authorization_id, seen, reachable, actor)


async def _record(
    engine: Engine,
    authorization_id: uuid.UUID,
    seen: Observation,
    reachable: list[ExternalAccount] | None,
    actor: str,
) -> str | None:
    """Apply what a check saw to the authorization as it is now, in one transaction."""
    async with engine.sessions.begin() as session:
        a = await locked(session, Authorization, authorization_id)
        if a is None:
            return None
        ctx = status.Context(engine.settings, utcnow(), actor)
        await status.record(session, a, seen, ctx)
        if reachable is not None:
            await status.reconcile_accounts(session, a, reachable, ctx)
    return a.status


@dataclass(frozen=True, slots=True)
class Observed:
    """What a check saw of one authorization, to be recorded."""

    authorization_id: uuid.UUID
    seen: Observation
    reachable: list[ExternalAccount] | None


async def _record_together(engine: Engine, observed: Sequence[Observed]) -> Counter[str]:
    """Record several checks as `_record` records each, in one transaction: their
    authorizations locked in id order, each read as it is once held. A storm of lapses costs
    one transaction per batch, and the outbox reads each organization's audience once."""
    counts: Counter[str] = Counter()
    async with engine.sessions.begin() as session:
        held = await all_locked(session, Authorization, [o.authorization_id for o in observed])
        by_id = {a.id: a for a in held}
        ctx = status.Context(engine.settings, utcnow(), audit.HEALTH)
        for o in observed:
            a = by_id.get(o.authorization_id)
            if a is None:
                counts["skipped"] += 1
                continue
            await status.record(session, a, o.seen, ctx)
            if o.reachable is not None:
                await status.reconcile_accounts(session, a, o.reachable, ctx)
    for a in held:
        counts[a.status] += 1
    return counts


async def _observe(
    engine: Engine, authorization_id: uuid.UUID, accounts: bool | None
) -> tuple[Observation | None, list[ExternalAccount] | None]:
    async with engine.sessions() as session:
        a = await repository.get_authorization(session, authorization_id)
    if a is None:
        return None, None
    if needs_refresh(a, engine.settings):
        result = await refresh(engine.sessions, engine.registry, engine.settings, a.id)
        if result.outcome == Refresh.FAILED:
            return result.failure, None
        if result.outcome == Refresh.BUSY:
            return None, None  # the worker holding the lease reports for this authorization
        a = await _reload(engine, a.id)
    return await _follow_up(engine, a, await _probe(engine, a), accounts)


async def _follow_up(
    engine: Engine, a: Authorization, seen: Observation, accounts: bool | None
) -> tuple[Observation | None, list[ExternalAccount] | None]:
    """After the probe: one refresh and a second look if the token expired early, then the
    accounts when they are due."""
    if seen.reason == Reason.TOKEN_EXPIRED and a.refresh_token is not None:
        # Expired early (a clock, or the provider's own decision): refresh once and look again.
        result = await refresh(engine.sessions, engine.registry, engine.settings, a.id, force=True)
        if result.outcome == Refresh.FAILED:
            return result.failure, None
        a = await _reload(engine, a.id)
        seen = await _probe(engine, a)
    if seen.verdict != Verdict.OK or not _accounts_due(a, engine.settings, accounts):
        return seen, None
    try:
        adapter = engine.registry.adapter(a.provider)
        return OK, await adapter.list_accounts(credentials_of(a))
    except ProviderCallError as error:
        return observe(error), None


async def _reload(engine: Engine, authorization_id: uuid.UUID) -> Authorization:
    async with engine.sessions() as session:
        a = await repository.get_authorization(session, authorization_id)
    assert a is not None  # an authorization being checked is deleted only with its lease gone
    return a


async def _probe(engine: Engine, a: Authorization) -> Observation:
    try:
        await engine.registry.adapter(a.provider).probe(credentials_of(a))
    except ProviderCallError as error:
        seen = observe(error)
    else:
        seen = OK
    metrics.PROBES.labels(a.provider, seen.verdict, seen.reason or "").inc()
    return seen


def _accounts_due(a: Authorization, settings: Settings, asked: bool | None) -> bool:
    if asked is not None:
        return asked
    if a.accounts_checked_at is None:
        return True
    return utcnow() - a.accounts_checked_at >= timedelta(
        seconds=settings.accounts_check_interval_seconds
    )


async def check_many(
    engine: Engine, ids: Sequence[uuid.UUID], *, concurrency: int | None = None
) -> Counter[str]:
    """Check several authorizations at once, each failure isolated; counts per outcome.

    The common case, a healthy authorization whose check changes nothing but its check times,
    is read with the rest of the batch and recorded with the other healthy ones in one UPDATE.
    Those of them whose check found a failure are recorded together, in one transaction, each
    as `check` records it (`_record_together`; one by one if that transaction fails). Anything
    else (a refresh or accounts check due, a status other than active, an open incident, a
    token about to end) takes the path of `check`.
    """
    gate = asyncio.Semaphore(concurrency or engine.settings.check_concurrency)
    counts: Counter[str] = Counter()
    try:
        plain = await _plain(engine, ids)
    except Exception:
        log.error("Could not read a batch of authorizations; checking each alone", exc_info=True)
        plain = {}
    healthy: list[Authorization] = []
    observed: list[Observed] = []  # plain authorizations whose check found something wrong

    async def one(authorization_id: uuid.UUID) -> None:
        async with gate:
            try:
                a = plain.get(authorization_id)
                if a is None:
                    outcome = await check(engine, authorization_id)
                else:
                    seen = await _probe(engine, a)
                    if seen.verdict == Verdict.OK:
                        healthy.append(a)
                        return
                    after, reachable = await _follow_up(engine, a, seen, None)
                    if after is not None:
                        observed.append(Observed(a.id, after, reachable))
                        return
                    outcome = None
                counts[outcome or "skipped"] += 1
            except Exception:  # one broken authorization must not stop the others
                counts["error"] += 1
                raise

    async def recorded_alone(o: Observed) -> None:
        async with gate:
            try:
                outcome = await _record(
                    engine, o.authorization_id, o.seen, o.reachable, audit.HEALTH
                )
                counts[outcome or "skipped"] += 1
            except Exception:
                counts["error"] += 1
                raise

    results = await asyncio.gather(*(one(i) for i in ids), return_exceptions=True)
    if observed:
        try:
            counts.update(await _record_together(engine, observed))
        except Exception:
            log.warning("Could not record a batch of checks together; recording each alone",
                        exc_info=True)  # fmt: skip
            results += await asyncio.gather(
                *(recorded_alone(o) for o in observed), return_exceptions=True
            )
    if healthy:
        try:
            recorded = await _record_healthy(engine, healthy)
        except Exception as error:
            counts["error"] += len(healthy)
            results.append(error)
        else:
            counts[Status.ACTIVE] += len(recorded)
            # Changed since they were read (a refresh, a reconnect), or being changed now: recorded
            # as `check` would, once free.
            changed = [a for a in healthy if a.id not in recorded]
            results += await asyncio.gather(
                *(recorded_alone(Observed(a.id, OK, None)) for a in changed),
                return_exceptions=True,
            )
    for result in results:
        if isinstance(result, Exception):
            log.error("A check failed unexpectedly", exc_info=result)
    return counts


async def _plain(engine: Engine, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Authorization]:
    """The authorizations of the batch that a successful probe would change nothing of but
    their check times, read in one query (and their open incidents in another)."""
    ctx = status.Context(engine.settings, utcnow())
    async with engine.sessions() as session:
        candidates = [
            a
            for a in await repository.authorizations_of(session, ids)
            if status.only_check_times_change(a, ctx)
            and not needs_refresh(a, engine.settings)
            and not _accounts_due(a, engine.settings, None)
        ]
        if not candidates:
            return {}
        busy = await repository.open_incident_scopes(
            session,
            [authorization_key(a.id) for a in candidates],
            [IncidentKind.LAPSE, IncidentKind.FAILING],
        )
    return {a.id: a for a in candidates if authorization_key(a.id) not in busy}


async def _record_healthy(engine: Engine, healthy: Sequence[Authorization]) -> set[uuid.UUID]:
    """Record the successful checks of plain authorizations in one transaction; returns the
    ones recorded (the others changed since they were read)."""
    ctx = status.Context(engine.settings, utcnow())
    async with engine.sessions.begin() as session:
        return await status.record_healthy(session, healthy, ctx)
