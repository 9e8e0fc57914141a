import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base, IdMixin, TimestampMixin
from tether.models.status import Status

# Columns the connections list sorts by; each gets an index with and without the status filter
# so any sort, filtered or not, is an index range scan (see docs/decisions/002).
SORTABLE = ("client_name", "provider", "account_name", "account_external_id", "status",
            "last_synced_at", "created_at")  # fmt: skip


class Connection(IdMixin, TimestampMixin, Base):
    """A client's use of one account through one authorization.

    Client and account names are copied here so that the list sorts and pages on one table;
    the services that rename a client or rediscover an account keep the copies current.
    """

    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("client_id", "provider", "account_external_id"),
        Index(None, "authorization_id"),
        Index(None, "account_id"),
        *(Index(None, "organization_id", column, "id") for column in SORTABLE),
        *(
            Index(None, "organization_id", "status", column, "id")
            for column in SORTABLE
            if column != "status"
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    authorization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("authorizations.id", ondelete="RESTRICT")
    )
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    provider: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default=Status.ACTIVE)
    reason: Mapped[str | None] = mapped_column(String(40), default=None)
    message: Mapped[str | None] = mapped_column(Text, default=None)
    client_name: Mapped[str] = mapped_column(String(200))
    account_name: Mapped[str] = mapped_column(String(300))
    account_external_id: Mapped[str] = mapped_column(String(200))
    last_synced_at: Mapped[datetime | None] = mapped_column(default=None)
    # The sync's state: when to load next, an override of the interval, what failed last.
    next_sync_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    sync_interval_hours: Mapped[int | None] = mapped_column(default=None)
    sync_error: Mapped[str | None] = mapped_column(Text, default=None)
    sync_failures: Mapped[int] = mapped_column(default=0, server_default=text("0"))
