"""The database's own state: that it answers, and the schema revision it is at."""

from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


async def revision(engine: AsyncEngine) -> str | None:
    """The schema revision the database is at (None before any), after a query it answers."""
    async with engine.connect() as connection:
        await connection.execute(select(1))
        return await connection.run_sync(_revision_of)


def _revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
