"""SQL for the connection counts the database keeps (models/connection_count.py): reading them,
and folding PostgreSQL's pending changes into them (kit/kept_counts_repository.py)."""

import uuid
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.kit import kept_counts_repository as kept
from tether.models import ConnectionCount, ConnectionCountChange


async def by_status(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    provider: str | None = None,
    excluded_providers: Collection[str] = (),
) -> dict[str, int]:
    """An organization's connections per status (of one provider, or of all but some)."""
    rows = kept.rows(
        ConnectionCount, ConnectionCountChange, organization_id, provider, excluded_providers
    )
    stmt = select(rows.c.status, func.sum(rows.c.n)).group_by(rows.c.status)
    return {status: int(n) for status, n in await session.execute(stmt) if n}


async def by_provider_and_status(session: AsyncSession) -> dict[tuple[str, str], int]:
    """Every organization's connections together, per provider and status (for /metrics)."""
    rows = kept.rows(ConnectionCount, ConnectionCountChange, None)
    stmt = select(rows.c.provider, rows.c.status, func.sum(rows.c.n)).group_by(
        rows.c.provider, rows.c.status
    )
    return {(provider, status): int(n) for provider, status, n in await session.execute(stmt) if n}


async def fold(session: AsyncSession) -> int:
    """Fold pending changes into the counts (PostgreSQL; SQLite has none). Returns how many
    counts changed."""
    return await kept.fold(
        session, ConnectionCount.__tablename__, ConnectionCountChange.__tablename__
    )
