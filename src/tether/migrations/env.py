"""Alembic runs here: online migrations over Tether's async engine."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import tether.models  # noqa: F401  (registers every table)
from tether.config import Settings
from tether.db import Base, create_engine

config = context.config


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table by dropping it; with foreign keys enforced that drop sets
        # NULL or cascades in every table pointing at it, and rows would be lost on upgrade.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # the pragma is ignored inside a transaction; the migrations own theirs
    try:
        _configure_and_run(connection)
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _migrate() -> None:
    url = config.attributes.get("database_url") or Settings().resolved_database_url
    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_migrate())
