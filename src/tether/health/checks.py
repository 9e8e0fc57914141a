"""Checking an authorization: refresh if due, probe, look at its accounts, record the verdict."""

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tether.audit import service as audit
from tether.authorizations.service import credentials_of
from tether.config import Settings
from tether.db import utcnow
from tether.health import repository, status
from tether.health.classify import OK, Observation, Verdict, observe
from tether.health.refresh import Refresh, needs_refresh, refresh
from tether.models import Authorization
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
    async with engine.sessions() as session:
        a = await repository.get_authorization(session, authorization_id)
        if a is None:
            return None
        ctx = status.Context(engine.settings, utcnow(), actor)
        await status.record(session, a, seen, ctx)
        if reachable is not None:
            await status.reconcile_accounts(session, a, reachable, ctx)
        await session.commit()
        return a.status


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
    seen = await _probe(engine, a)
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
        return observe(error)
    return OK


def _accounts_due(a: Authorization, settings: Settings, asked: bool | None) -> bool:
    if asked is not None:
        return asked
    if a.accounts_checked_at is None:
        return True
    return utcnow() - a.accounts_checked_at >= timedelta(
        seconds=settings.accounts_check_interval_seconds
    )


async def check_many(
    engine: Engine, ids: Sequence[uuid.UUID], *, concurrency: int = 16
) -> Counter[str]:
    """Check several authorizations at once, each failure isolated; counts per outcome."""
    gate = asyncio.Semaphore(concurrency)
    counts: Counter[str] = Counter()

    async def one(authorization_id: uuid.UUID) -> None:
        async with gate:
            try:
                counts[await check(engine, authorization_id) or "skipped"] += 1
            except Exception:  # one broken authorization must not stop the others
                counts["error"] += 1
                raise

    results = await asyncio.gather(*(one(i) for i in ids), return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            log.error("A check failed unexpectedly", exc_info=result)
    return counts
