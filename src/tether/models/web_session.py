import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base, IdMixin, utcnow


class WebSession(IdMixin, Base):
    """A member signed in to the web app. Only the SHA-256 of the cookie's token is stored."""

    __tablename__ = "web_sessions"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Sliding: moved forward as the member uses the app, never past created_at + the longest life.
    expires_at: Mapped[datetime] = mapped_column()


class SignInBrake(Base):
    """Refused sign-ins counted for one email or one client address, and the earliest moment
    the next attempt is checked. The key is a digest of what is counted (`email:…`,
    `address:…`), so an email typed wrong, or a password typed into the email field, is never
    stored."""

    __tablename__ = "sign_in_brakes"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    # When the count last changed; a count older than the window is forgotten.
    counted_at: Mapped[datetime] = mapped_column(index=True)
    next_attempt_at: Mapped[datetime]
