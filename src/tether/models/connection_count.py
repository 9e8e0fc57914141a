"""How many connections each organization has, by provider and status, kept by the database.

Triggers on `connections` (migration 0013) keep these rows in the transaction that inserts,
updates or deletes connections, whatever code path does it, so the counts cannot drift from the
rows they count. On SQLite each changed row adds and takes one from `connection_counts` (one
writer at a time: nothing waits). On PostgreSQL, where many transactions change statuses at once,
each statement appends its net change to `connection_count_changes`, which takes no lock another
transaction waits on; the scheduler folds the changes into `connection_counts` at each pass, and a
count reads both (docs/decisions/009).
"""

import uuid

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base


class ConnectionCount(Base):
    __tablename__ = "connection_counts"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    provider: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class ConnectionCountChange(Base):
    """A statement's net change to one count, not yet folded in (PostgreSQL only). No foreign key:
    an organization's deletion cascades to its connections, whose trigger then records changes of
    an organization that is gone; the fold drops those."""

    __tablename__ = "connection_count_changes"
    __table_args__ = (Index(None, "organization_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    organization_id: Mapped[uuid.UUID]
    provider: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    n: Mapped[int] = mapped_column(BigInteger)
