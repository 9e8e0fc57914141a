import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base, IdMixin, utcnow
from tether.kit.crypto import Sealed


class OAuthState(IdMixin, Base):
    """One sign-in attempt: binds what the callback brings back (OAuth 2.0's `state`, or the
    request token of OAuth 1.0a) to a member, with the secret the callback needs."""

    __tablename__ = "oauth_states"

    # SHA-256 of that handle: a copy of the table does not let anyone finish someone's consent.
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(40))
    # The PKCE verifier, or OAuth 1.0a's request token secret. The column keeps the name it had
    # before OAuth 1.0a: renaming it would gain nothing a reader of the model needs.
    secret: Mapped[Sealed] = mapped_column("code_verifier")
    return_to: Mapped[str | None] = mapped_column(String(500), default=None)
    # Set when this attempt reconnects an existing authorization rather than adding one; with
    # `connection_id` too when a member who sees only some of its clients reconnects theirs.
    authorization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("authorizations.id", ondelete="CASCADE"), default=None
    )
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None] = mapped_column(default=None)
