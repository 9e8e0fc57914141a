"""SQL for the counts the database keeps (models/kept_count.py): reading them with the changes
not yet folded in, and folding PostgreSQL's pending changes into them (docs/decisions/009)."""

import functools
import uuid
from collections.abc import Collection

from sqlalchemy import Subquery, TextClause, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from tether.models.kept_count import KeptCount, KeptCountChange

# At most this many pending changes are folded in one pass: a full one took 0.15 s on 2 cores
# (bench/connections_list.py folds the million its seeding appends), an idle one a lookup.
FOLD_BATCH = 20_000


@functools.cache
def _fold(counts: str, changes: str) -> TextClause:
    """The oldest pending changes, taken by this pass alone (another pass at the same moment
    skips them), summed into the counts; those of an organization deleted since are dropped. The
    counts' rows are written in key order, so two passes can wait on each other but never
    deadlock."""
    return text(
        f"""
        WITH taken AS (
            DELETE FROM {changes}
            WHERE id IN (
                SELECT id FROM {changes} ORDER BY id LIMIT :batch
                FOR UPDATE SKIP LOCKED
            )
            RETURNING organization_id, provider, status, n
        ), summed AS (
            SELECT organization_id, provider, status, sum(n) AS n
            FROM taken GROUP BY organization_id, provider, status
        )
        INSERT INTO {counts} (organization_id, provider, status, n)
        SELECT summed.organization_id, summed.provider, summed.status, summed.n
        FROM summed JOIN organizations ON organizations.id = summed.organization_id
        ORDER BY summed.organization_id, summed.provider, summed.status
        ON CONFLICT (organization_id, provider, status)
        DO UPDATE SET n = {counts}.n + EXCLUDED.n
        """
    )


def rows(
    counts: type[KeptCount],
    changes: type[KeptCountChange],
    organization_id: uuid.UUID | None,
    provider: str | None = None,
    excluded: Collection[str] = (),
) -> Subquery:
    """The kept counts and the pending changes together, as (provider, status, n) rows."""
    parts = []
    for table in (counts, changes):
        part = select(table.provider, table.status, table.n)
        if organization_id is not None:
            part = part.where(table.organization_id == organization_id)
        if provider:
            part = part.where(table.provider == provider)
        if excluded:
            part = part.where(table.provider.not_in(excluded))
        parts.append(part)
    return union_all(*parts).subquery()


async def fold(session: AsyncSession, counts: str, changes: str) -> int:
    """Fold pending changes into the counts (PostgreSQL; SQLite has none). Returns how many
    counts changed."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    result = await session.execute(_fold(counts, changes), {"batch": FOLD_BATCH})
    return int(getattr(result, "rowcount", 0) or 0)
