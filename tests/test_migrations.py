"""The migrations build exactly the models' schema, and every earlier database reaches it intact.

Each test prints what it compared (`pytest -s`), so a run shows how much was covered.
"""

import asyncio
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

import tether.models  # noqa: F401  (registers every table)
from tests.fixtures import databases
from tether.config import async_database_url
from tether.db import Base, SealedText, create_engine
from tether.migrate import alembic_config

# Alembic's own bookkeeping: a migrated database has it, the models do not.
BOOKKEEPING = "alembic_version"
Rows = dict[str, dict[str, Any]]


def revisions() -> list[str]:
    """Every revision, oldest first, as the shipped script directory lists them."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


@contextmanager
def empty_sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="tether-migrations-") as folder:
        yield async_database_url(f"sqlite:///{Path(folder) / 'tether.db'}")


@contextmanager
def empty_postgres() -> Iterator[str]:
    with databases.empty_postgres("tether_migrations") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest) -> Callable[[], Any]:
    """Makes a fresh, empty database of the parametrised kind; use it as a context manager."""
    return empty_sqlite if request.param == "sqlite" else empty_postgres


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def on(url: str, work: Callable[[Connection], Any]) -> Any:
    """Run `work` on a synchronous connection to `url`, committing what it did."""

    async def run() -> Any:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def differences(connection: Connection) -> list[Any]:
    """What autogenerate would write to make the database match the models; configured as
    `migrations/env.py` configures it, so types are compared too."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    found = compare_metadata(context, Base.metadata)
    return [d for d in found if not _bookkeeping(d) and not _folded_into_key(d, connection)]


def _bookkeeping(difference: Any) -> bool:
    return bool(difference[0] == "remove_table" and difference[1].name == BOOKKEEPING)


def _folded_into_key(difference: Any, connection: Connection) -> bool:
    """PostgreSQL drops a UNIQUE constraint on exactly the primary key's columns when it creates
    the table (the key already is that index), so such a model constraint never exists there."""
    if connection.dialect.name != "postgresql" or difference[0] != "add_constraint":
        return False
    constraint = difference[1]
    if not isinstance(constraint, sa.UniqueConstraint):
        return False
    key = Base.metadata.tables[constraint.table.name].primary_key
    return {c.name for c in constraint.columns} == {c.name for c in key.columns}


def test_the_migrations_build_exactly_the_models(empty_database: Callable[[], Any]) -> None:
    with empty_database() as url:
        upgrade(url)
        found = on(url, differences)
        tables = on(url, lambda c: sa.inspect(c).get_table_names())

    compared = len(Base.metadata.tables)
    print(f"\nmodels vs migrations: {compared} tables compared, {len(found)} diffs")  # noqa: T201
    assert found == []
    assert set(tables) - {BOOKKEEPING} == set(Base.metadata.tables)


@pytest.mark.parametrize("revision", revisions())
def test_a_database_at_every_revision_upgrades_to_head_keeping_its_rows(
    empty_database: Callable[[], Any], revision: str
) -> None:
    with empty_database() as url:
        upgrade(url, revision)
        seeded = on(url, seed)
        upgrade(url)
        kept = on(url, lambda c: read_back(c, seeded))
        found = on(url, differences)

    dropped = {t for t in seeded if t not in Base.metadata.tables}
    print(  # noqa: T201  (the counts are part of what these tests report)
        f"\nfrom {revision}: {len(seeded)} tables seeded, {len(kept)} rows kept, "
        f"{len(dropped)} tables dropped on purpose {sorted(dropped)}, {len(found)} schema diffs"
    )
    assert found == []
    changed = {
        f"{table}.{column}": (value, kept.get(table, {}).get(column))
        for table, row in seeded.items()
        if table not in dropped
        for column, value in row.items()
        if kept.get(table, {}).get(column) != value
    }
    assert changed == {}, "rows lost or changed by the upgrade (seeded, after)"


def seed(connection: Connection) -> Rows:
    """One row in every table the database has at its revision, referencing one another.
    Returns the rows as read back, by table."""
    reflected = sa.MetaData()
    reflected.reflect(connection)
    rows: Rows = {}
    for table in reflected.sorted_tables:
        if table.name == BOOKKEEPING:
            continue
        typed = _typed(table)
        row = {c.name: _value(c, rows, table) for c in table.columns}
        connection.execute(sa.insert(typed).values(row))
        rows[table.name] = _read(connection, typed, row)
    return rows


def read_back(connection: Connection, seeded: Rows) -> Rows:
    """The seeded rows as the upgraded database holds them (the columns they were seeded with)."""
    reflected = sa.MetaData()
    reflected.reflect(connection)
    kept: Rows = {}
    for name, row in seeded.items():
        if name not in reflected.tables:
            continue
        typed = _typed(reflected.tables[name], only=set(row))
        found = _read(connection, typed, row)
        if found:
            kept[name] = found
    return kept


def _typed(table: sa.Table, only: set[str] | None = None) -> sa.Table:
    """The table with the models' column types where the models know the column, so values go
    in and come out as the application writes them (UUIDs, aware timestamps, JSON)."""
    model = Base.metadata.tables.get(table.name)
    columns = []
    for column in table.columns:
        if only is not None and column.name not in only:
            continue
        kind = column.type
        if model is not None and column.name in model.columns:
            kind = model.columns[column.name].type
        if isinstance(kind, SealedText):
            kind = sa.String()  # ciphertext is text; the vault is not what is tested here
        columns.append(sa.Column(column.name, kind, primary_key=column.primary_key))
    return sa.Table(table.name, sa.MetaData(), *columns)


def _read(connection: Connection, table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    keys = [c for c in table.primary_key.columns] or list(table.columns)
    where = [c == row[c.name] for c in keys]
    found = connection.execute(sa.select(table).where(*where)).mappings().all()
    assert len(found) <= 1, f"{table.name}: more than one row where one was seeded"
    return dict(found[0]) if found else {}


def _value(column: sa.Column[Any], rows: Rows, table: sa.Table) -> Any:
    for key in column.foreign_keys:
        target = rows.get(key.column.table.name)
        if target is not None:
            return target[key.column.name]
        return None
    model = Base.metadata.tables.get(table.name)
    kind = column.type
    if model is not None and column.name in model.columns:
        kind = model.columns[column.name].type
    return _sample(kind, f"{table.name}.{column.name}")


def _sample(kind: sa.types.TypeEngine[Any], label: str) -> Any:
    """A plausible value of the column's type; strings say where they were planted."""
    if isinstance(kind, sa.TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, sa.Uuid):
        return uuid.uuid4()
    if isinstance(kind, sa.Boolean):
        return True
    if isinstance(kind, sa.Integer):
        return 7
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    if isinstance(kind, sa.Date):
        return date(2026, 3, 4)
    if isinstance(kind, sa.JSON):
        return {"seeded": label}
    if isinstance(kind, sa.Float | sa.Numeric):
        return 1.5
    if isinstance(kind, sa.LargeBinary):
        return label.encode()
    length = getattr(kind, "length", None) or 200
    return f"{label}-{uuid.uuid4().hex}"[:length]


@pytest.mark.parametrize(
    ("before", "table", "counts"),
    [("0012", "connections", "connection"), ("0013", "authorizations", "authorization")],
)
def test_upgrading_counts_the_rows_already_there(
    empty_database: Callable[[], Any], before: str, table: str, counts: str
) -> None:
    """0013 (connections) and 0014 (authorizations) start their kept counts from the rows: a
    database upgraded with rows in it counts them, and the triggers count what comes after."""
    with empty_database() as url:
        upgrade(url, before)
        seeded = on(url, seed)
        upgrade(url)
        counted = on(url, lambda c: c.execute(sa.text(counted_sql(counts))).all())
        on(url, lambda c: c.execute(sa.text(f"UPDATE {table} SET status = 'failing'")))
        recounted = on(url, lambda c: c.execute(sa.text(counted_sql(counts))).all())

    row = seeded[table]
    assert counted == [(row["provider"], row["status"], 1)]
    assert recounted == [(row["provider"], "failing", 1)]


def counted_sql(counts: str) -> str:
    """The kept counts with the changes not yet folded (PostgreSQL's), as a count reads them."""
    return f"""
        SELECT provider, status, sum(n) FROM (
            SELECT provider, status, n FROM {counts}_counts
            UNION ALL SELECT provider, status, n FROM {counts}_count_changes
        ) AS both_parts GROUP BY provider, status HAVING sum(n) <> 0 ORDER BY provider, status
    """
