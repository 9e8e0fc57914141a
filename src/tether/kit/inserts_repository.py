"""INSERT … ON CONFLICT in the session's dialect, sent as one cached statement.

`insert_into(session, Model)` is the dialect's INSERT into the model's table, so it can say ON
CONFLICT (PostgreSQL and SQLite spell it alike). Executed with the rows as parameters
(`session.execute(stmt, rows)`), SQLAlchemy compiles it once, caches it, and sends the rows as
multi-row VALUES itself. A statement that carries its rows (`.values(rows)`) is compiled anew,
bind by bind, on every call: in a storm of lapses that was a third of the CPU spent writing the
outbox."""

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


def insert_into(session: AsyncSession, model: type[Any]) -> Insert:
    """The dialect's INSERT into `model`'s table (typed as PostgreSQL's: SQLite's has the same
    `on_conflict_do_nothing`, `on_conflict_do_update` and `excluded`)."""
    table = cast(Table, model.__table__)
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(table)
    return cast(Insert, sqlite_insert(table))


async def insert_ignoring_conflicts(
    session: AsyncSession, model: type[Any], rows: list[dict[str, Any]]
) -> None:
    """Add these rows; one that clashes with a unique key already there is left out."""
    if rows:
        await session.execute(insert_into(session, model).on_conflict_do_nothing(), rows)
