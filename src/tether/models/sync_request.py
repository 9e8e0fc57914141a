import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base, IdMixin, utcnow


class SyncRequest(IdMixin, Base):
    """A sync someone asked for ("sync now"): queued, run by a worker, followed by its id.

    The row is due work like an email (`kit/due_repository.DueRows`): `due_at` is when a worker
    may next run it, and `finished_at` or `abandoned_at` ends it. The scheduler hands it out and a
    worker claims it before it runs; a run that failed unexpectedly is retried with back-off up to
    a limit. What the sync loaded is kept on the row for whoever follows it."""

    __tablename__ = "sync_requests"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), default=None
    )
    # The days asked for; None: whatever the history window lacks.
    start: Mapped[date | None] = mapped_column(default=None)
    end: Mapped[date | None] = mapped_column(default=None)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(index=True, default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    abandoned_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # What the sync came to: synced, failed or skipped (see sync.service.SyncResult).
    outcome: Mapped[str | None] = mapped_column(String(20), default=None)
    days_loaded: Mapped[int] = mapped_column(default=0)
    rows: Mapped[int] = mapped_column(default=0)
    lost_days: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    reason: Mapped[str | None] = mapped_column(String(40), default=None)
