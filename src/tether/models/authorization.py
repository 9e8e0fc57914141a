import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base, IdMixin, TimestampMixin
from tether.kit.crypto import Sealed
from tether.models.status import AuthorizationRole, Status


class Authorization(IdMixin, TimestampMixin, Base):
    """One grant of access made by one member (its connector): an OAuth grant or an API key."""

    __tablename__ = "authorizations"
    __table_args__ = (Index(None, "organization_id", "provider", "created_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    provider: Mapped[str] = mapped_column(String(40))
    connector_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    role: Mapped[str] = mapped_column(String(20), default=AuthorizationRole.MAIN)
    status: Mapped[str] = mapped_column(String(20), default=Status.ACTIVE)
    reason: Mapped[str | None] = mapped_column(String(40), default=None)
    message: Mapped[str | None] = mapped_column(Text, default=None)
    # Who the grant belongs to on the provider's side.
    external_user_id: Mapped[str] = mapped_column(String(200))
    external_user_name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str | None] = mapped_column(String(500), default=None)
    access_token: Mapped[Sealed | None] = mapped_column(default=None)
    # OAuth 1.0a's token secret (X): every call signs with it, so it is sealed like the token.
    access_token_secret: Mapped[Sealed | None] = mapped_column(default=None)
    refresh_token: Mapped[Sealed | None] = mapped_column(default=None)
    api_key: Mapped[Sealed | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # A refresh token with a fixed end from the first consent (LinkedIn's 365 days, Google's
    # 7 days for apps in Testing): refreshing does not move it, so it warns like an expiry.
    refresh_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_synced_at: Mapped[datetime | None] = mapped_column(default=None)
    # The health engine's state: when to look next, and what it saw last.
    next_check_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    last_checked_at: Mapped[datetime | None] = mapped_column(default=None)
    accounts_checked_at: Mapped[datetime | None] = mapped_column(default=None)
    check_failures: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[datetime | None] = mapped_column(default=None)
    # One refresh at a time across every worker: a worker holds this lease while it refreshes.
    refresh_lease_until: Mapped[datetime | None] = mapped_column(default=None)
