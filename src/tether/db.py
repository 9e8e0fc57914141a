"""The database: engine, sessions, and the column types every table shares."""

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, String, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from tether.kit.crypto import Sealed

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Tether stores only timezone-aware datetimes.")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SealedText(TypeDecorator[Sealed]):
    """A secret column: the database and the ORM only ever hold ciphertext."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Sealed | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Sealed):
            raise TypeError("Secret columns take Sealed values; seal plaintext with the key ring.")
        return value.token

    def process_result_value(self, value: str | None, dialect: Dialect) -> Sealed | None:
        return None if value is None else Sealed(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), Sealed: SealedText()}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def create_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 20, **options: Any
) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout. The pool sizes
    (`TETHER_DB_POOL_SIZE`, `TETHER_DB_MAX_OVERFLOW`) apply to PostgreSQL."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow, **options)
    _ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


# A pooled PostgreSQL connection that sat idle this long is pinged (one round trip) before it is
# handed out, and replaced if the server dropped it (a restart, an idle timeout, a failover). One
# in steady use is not: pinging on every checkout (`pool_pre_ping`) cost each request 0.4-0.6 ms,
# a tenth of the cheapest. A connection dropped within the last seconds fails the one statement
# that meets it; the pool then replaces every connection older than the failure.
PING_AFTER_IDLE_SECONDS = 10.0


def _ping_when_idle(engine: AsyncEngine, after: float) -> None:
    dialect = engine.sync_engine.dialect

    def checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < after:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                # The pool discards this connection and checks out another (up to 3 tries).
                raise DisconnectionError() from error
            raise

    event.listen(engine.sync_engine, "checkin", checkin)
    event.listen(engine.sync_engine, "checkout", checkout)


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session that commits when the unit of work succeeds and rolls back when it raises."""
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
