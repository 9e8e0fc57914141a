import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base, IdMixin, utcnow
from tether.kit.crypto import Sealed


class OAuthState(IdMixin, Base):
    """One OAuth authorization attempt: binds the `state` to a member and a PKCE verifier."""

    __tablename__ = "oauth_states"

    # SHA-256 of the state: a copy of the table does not let anyone finish someone's consent.
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(40))
    code_verifier: Mapped[Sealed]
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
