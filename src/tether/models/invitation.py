import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base, IdMixin, utcnow


class Invitation(IdMixin, Base):
    """A person asked to join an organization, until they accept or it expires.

    The row is also its email's outbox: `email_due_at` is when the invitation email is next
    tried (None once sent or abandoned), with the same claim-and-retry rules as notification
    emails. The link in the email is signed over the row's id and `link_nonce`; a new nonce
    (resending) makes every earlier link of the invitation stop working."""

    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("organization_id", "email"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # None: every client; else the ids (as text) of the clients a staff member will see.
    client_ids: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), default=None
    )
    link_nonce: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    email_due_at: Mapped[datetime | None] = mapped_column(index=True, default=None)
    email_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    email_attempts: Mapped[int] = mapped_column(default=0)
    email_last_error: Mapped[str | None] = mapped_column(Text, default=None)
    email_abandoned_at: Mapped[datetime | None] = mapped_column(default=None)
