import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base, IdMixin, utcnow


class AuditEvent(IdMixin, Base):
    """Who or what changed what, when, from what to what."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index(None, "organization_id", "at"),
        Index(None, "subject_type", "subject_id"),
    )

    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # A member's id, or a system actor such as "tether:health".
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[str] = mapped_column(String(80))
    from_value: Mapped[str | None] = mapped_column(String(80), default=None)
    to_value: Mapped[str | None] = mapped_column(String(80), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
