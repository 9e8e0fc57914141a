"""Re-seal every stored secret under the newest key, so older keys can be retired."""

from collections import Counter

from sqlalchemy import Column, String, Table, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

import tether.models  # noqa: F401  (registers every table)
from tether import vault
from tether.db import Base, SealedText
from tether.kit.crypto import Sealed

_BATCH = 500


def sealed_columns() -> list[tuple[Table, Column[Sealed]]]:
    """Every secret column of every table."""
    return [
        (table, column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, SealedText)
    ]


async def rotate(session: AsyncSession) -> Counter[str]:
    """Re-seal what an older key sealed; returns how many secrets moved, per table.column."""
    ring = vault.keyring()
    current = f"v1.{ring.newest_key_id}.%"
    moved: Counter[str] = Counter()
    for table, column in sealed_columns():
        key = table.c.id
        while True:
            stmt = (
                select(key, column)
                .where(column.is_not(None), ~type_coerce(column, String()).like(current))
                .limit(_BATCH)
            )
            rows = (await session.execute(stmt)).all()
            for row_id, sealed in rows:
                await session.execute(
                    update(table).where(key == row_id).values({column.name: ring.reseal(sealed)})
                )
            moved[f"{table.name}.{column.name}"] += len(rows)
            if len(rows) < _BATCH:
                break
    return moved


async def count_by_key(session: AsyncSession) -> Counter[str]:
    """How many stored secrets each key id sealed."""
    counts: Counter[str] = Counter()
    for _table, column in sealed_columns():
        for (sealed,) in (await session.execute(select(column).where(column.is_not(None)))).all():
            counts[sealed.key_id] += 1
    return counts
