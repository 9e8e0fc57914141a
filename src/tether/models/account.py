import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base, IdMixin, TimestampMixin
from tether.models.status import Status


class Account(IdMixin, TimestampMixin, Base):
    """An external account reachable through an authorization."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("authorization_id", "external_id"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    authorization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("authorizations.id", ondelete="CASCADE")
    )
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    # The manager account this one is reached through (Google Ads' login-customer-id).
    manager_external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(20), default=Status.ACTIVE)
    last_synced_at: Mapped[datetime | None] = mapped_column(default=None)
