"""Re-seal every stored secret under the newest key, so older keys can be retired."""

from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from tether import vault
from tether.vault import repository

_BATCH = 500


async def rotate(session: AsyncSession) -> Counter[str]:
    """Re-seal what an older key sealed; returns how many secrets moved, per table.column."""
    ring = vault.keyring()
    moved: Counter[str] = Counter()
    for table, column in repository.sealed_columns():
        while True:
            rows = await repository.sealed_by_other_keys(
                session, table, column, ring.newest_key_id, _BATCH
            )
            for row_id, sealed in rows:
                await repository.replace(session, table, column, row_id, ring.reseal(sealed))
            moved[f"{table.name}.{column.name}"] += len(rows)
            if len(rows) < _BATCH:
                break
    return moved


async def count_by_key(session: AsyncSession) -> Counter[str]:
    """How many stored secrets each key id sealed."""
    counts: Counter[str] = Counter()
    for _table, column in repository.sealed_columns():
        counts.update(sealed.key_id for sealed in await repository.all_sealed(session, column))
    return counts
