"""Exactly one scheduler acts at a time: an advisory lock on PostgreSQL, a lease row on SQLite."""

from datetime import datetime, timedelta

from sqlalchemy import or_, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tether.models import Lease

# Any fixed 64-bit number; it only has to differ from other advisory locks on the database.
_ADVISORY_KEY = 0x7E7E_5C4E_D01E


async def try_lead(
    session: AsyncSession, *, name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Whether this holder may act now. Held until the end of the caller's transaction on
    PostgreSQL; until `ttl` passes without renewal on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        locked = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY}
        )
        return bool(locked)
    renewed = await session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    if renewed.rowcount:  # type: ignore[attr-defined]
        return True
    inserted = await session.execute(
        sqlite_insert(Lease)
        .values(name=name, holder=holder, expires_at=now + ttl)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return bool(inserted.rowcount)  # type: ignore[attr-defined]
