"""Alembic runs here: online migrations over Tether's async engine."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import tether.models  # noqa: F401  (registers every table)
from tether.config import Settings
from tether.db import Base, create_engine

config = context.config


# One key for every `tether migrate` on a database: a second run waits for the first.
MIGRATION_LOCK = 0x7E7E_0001
# How long a run waits for another to finish, and how long one DDL statement may wait for the
# tables it changes (servers reading them) before it gives up rather than stall them all.
WAIT_FOR_OTHER_RUN = "15min"
LOCK_TIMEOUT = "30s"
STATEMENT_TIMEOUT = "30min"


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        _locked(connection)
    else:  # SQLite has one writer at a time: a second run waits on the database itself
        _run_sqlite(connection)


def _locked(connection: Connection) -> None:
    """The migrations under PostgreSQL's advisory lock, with lock and statement time-outs."""
    connection.exec_driver_sql(f"SET lock_timeout = '{WAIT_FOR_OTHER_RUN}'")
    connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
    connection.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    connection.exec_driver_sql(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
    connection.commit()  # the session keeps the lock and the settings; migrations own theirs
    try:
        _configure_and_run(connection)
    finally:
        connection.rollback()  # a failed migration leaves its transaction aborted
        connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
        connection.commit()


def _run_sqlite(connection: Connection) -> None:
    sqlite = True
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
