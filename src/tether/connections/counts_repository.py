"""SQL for the connection counts the database keeps (models/connection_count.py): reading them,
and folding PostgreSQL's pending changes into them."""

import uuid
from collections.abc import Collection

from sqlalchemy import Subquery, func, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from tether.models import ConnectionCount, ConnectionCountChange

# At most this many pending changes are folded in one pass: a full one took 0.15 s on 2 cores
# (bench/connections_list.py folds the million its seeding appends), an idle one a lookup.
FOLD_BATCH = 20_000

# The oldest pending changes, taken by this pass alone (another pass at the same moment skips
# them), summed into the counts; those of an organization deleted since are dropped. The counts'
# rows are written in key order, so two passes can wait on each other but never deadlock.
_FOLD = text(
    """
    WITH taken AS (
        DELETE FROM connection_count_changes
        WHERE id IN (
            SELECT id FROM connection_count_changes ORDER BY id LIMIT :batch
            FOR UPDATE SKIP LOCKED
        )
        RETURNING organization_id, provider, status, n
    ), summed AS (
        SELECT organization_id, provider, status, sum(n) AS n
        FROM taken GROUP BY organization_id, provider, status
    )
    INSERT INTO connection_counts (organization_id, provider, status, n)
    SELECT summed.organization_id, summed.provider, summed.status, summed.n
    FROM summed JOIN organizations ON organizations.id = summed.organization_id
    ORDER BY summed.organization_id, summed.provider, summed.status
    ON CONFLICT (organization_id, provider, status)
    DO UPDATE SET n = connection_counts.n + EXCLUDED.n
    """
)


def _rows(
    organization_id: uuid.UUID | None, provider: str | None, excluded: Collection[str]
) -> Subquery:
    """The kept counts and the pending changes together, as (provider, status, n) rows."""
    parts = []
    for table in (ConnectionCount, ConnectionCountChange):
        part = select(table.provider, table.status, table.n)
        if organization_id is not None:
            part = part.where(table.organization_id == organization_id)
        if provider:
            part = part.where(table.provider == provider)
        if excluded:
            part = part.where(table.provider.not_in(excluded))
        parts.append(part)
    return union_all(*parts).subquery()


async def by_status(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    provider: str | None = None,
    excluded_providers: Collection[str] = (),
) -> dict[str, int]:
    """An organization's connections per status (of one provider, or of all but some)."""
    rows = _rows(organization_id, provider, excluded_providers)
    stmt = select(rows.c.status, func.sum(rows.c.n)).group_by(rows.c.status)
    return {status: int(n) for status, n in await session.execute(stmt) if n}


async def by_provider_and_status(session: AsyncSession) -> dict[tuple[str, str], int]:
    """Every organization's connections together, per provider and status (for /metrics)."""
    rows = _rows(None, None, ())
    stmt = select(rows.c.provider, rows.c.status, func.sum(rows.c.n)).group_by(
        rows.c.provider, rows.c.status
    )
    return {(provider, status): int(n) for provider, status, n in await session.execute(stmt) if n}


async def fold(session: AsyncSession) -> int:
    """Fold pending changes into the counts (PostgreSQL; SQLite has none). Returns how many
    counts changed."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    result = await session.execute(_FOLD, {"batch": FOLD_BATCH})
    return int(getattr(result, "rowcount", 0) or 0)
