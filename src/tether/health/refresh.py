"""Refreshing OAuth access tokens ahead of expiry, one refresh per authorization at a time.

This module scopes its transactions on purpose: the lease is committed before the provider is
called (so racing workers see it), and a rotated refresh token is committed the moment the
provider returns it, before anything else can fail. A worker killed at any point leaves either
the old grant (still valid at the provider until its successor is used) or the new one.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tether import metrics, vault
from tether.config import Settings
from tether.db import utcnow
from tether.health import repository
from tether.health.classify import Observation, observe
from tether.models import Authorization
from tether.providers.base import ProviderCallError
from tether.providers.registry import Registry


class Refresh(StrEnum):
    NOT_NEEDED = "not_needed"
    REFRESHED = "refreshed"
    BUSY = "busy"  # another worker holds the lease
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RefreshResult:
    outcome: Refresh
    failure: Observation | None = None


def needs_refresh(a: Authorization, settings: Settings) -> bool:
    """An OAuth grant with a refresh token whose access token ends within the window."""
    if a.refresh_token is None or a.expires_at is None:
        return False
    window = timedelta(seconds=settings.refresh_window_seconds)
    return a.expires_at - utcnow() <= window


async def refresh(
    sessions: async_sessionmaker[AsyncSession],
    registry: Registry,
    settings: Settings,
    authorization_id: uuid.UUID,
    *,
    force: bool = False,
) -> RefreshResult:
    """Refresh if due (or forced), unless another worker is already at it."""
    now = utcnow()
    async with sessions.begin() as session:
        a = await repository.get_authorization(session, authorization_id)
        if a is None or a.refresh_token is None or not (force or needs_refresh(a, settings)):
            return RefreshResult(Refresh.NOT_NEEDED)
        lease_until = now + timedelta(seconds=settings.refresh_lease_seconds)
        taken = await repository.take_refresh_lease(session, authorization_id, now, lease_until)
    if not taken:
        return RefreshResult(Refresh.BUSY)
    try:
        return await _refresh_holding_lease(sessions, registry, settings, authorization_id, force)
    finally:
        async with sessions.begin() as session:
            await repository.release_refresh_lease(session, authorization_id)


async def _refresh_holding_lease(
    sessions: async_sessionmaker[AsyncSession],
    registry: Registry,
    settings: Settings,
    authorization_id: uuid.UUID,
    force: bool,
) -> RefreshResult:
    # Read again under the lease: the worker before us may have just refreshed.
    async with sessions() as session:
        a = await repository.get_authorization(session, authorization_id)
    if a is None or a.refresh_token is None or not (force or needs_refresh(a, settings)):
        return RefreshResult(Refresh.NOT_NEEDED)
    adapter = registry.oauth_adapter(a.provider)
    try:
        grant = await adapter.refresh(refresh_token=vault.reveal(a.refresh_token))
    except ProviderCallError as error:
        seen = observe(error)
        metrics.REFRESHES.labels(a.provider, seen.verdict, seen.reason or "").inc()
        return RefreshResult(Refresh.FAILED, seen)
    async with sessions.begin() as session:
        a = await repository.get_authorization(session, authorization_id)
        if a is None:
            return RefreshResult(Refresh.NOT_NEEDED)
        a.access_token = vault.seal(grant.access_token)
        if grant.refresh_token:
            a.refresh_token = vault.seal(grant.refresh_token)
        a.expires_at = grant.expires_at
        if grant.refresh_expires_at is not None:
            a.refresh_expires_at = grant.refresh_expires_at
    metrics.REFRESHES.labels(a.provider, Refresh.REFRESHED, "").inc()
    return RefreshResult(Refresh.REFRESHED)
