"""SQL over the secret columns of every table."""

import uuid
from collections.abc import Sequence

from sqlalchemy import Column, String, Table, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

import tether.models  # noqa: F401  (registers every table)
from tether.db import Base, SealedText
from tether.kit.crypto import Sealed


def sealed_columns() -> list[tuple[Table, Column[Sealed]]]:
    """Every secret column of every table."""
    return [
        (table, column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, SealedText)
    ]


async def sealed_by_other_keys(
    session: AsyncSession, table: Table, column: Column[Sealed], key_id: str, limit: int
) -> Sequence[tuple[uuid.UUID, Sealed]]:
    """Up to `limit` rows whose secret in `column` was not sealed with `key_id`."""
    stmt = (
        select(table.c.id, column)
        .where(column.is_not(None), ~type_coerce(column, String()).like(f"v1.{key_id}.%"))
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def replace(
    session: AsyncSession, table: Table, column: Column[Sealed], row_id: uuid.UUID, sealed: Sealed
) -> None:
    await session.execute(update(table).where(table.c.id == row_id).values({column.name: sealed}))


async def all_sealed(session: AsyncSession, column: Column[Sealed]) -> Sequence[Sealed]:
    return (await session.scalars(select(column).where(column.is_not(None)))).all()
