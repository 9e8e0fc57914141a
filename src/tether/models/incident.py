import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base, IdMixin, utcnow


class IncidentScope(StrEnum):
    AUTHORIZATION = "authorization"
    CONNECTION = "connection"
    PROVIDER = "provider"


class IncidentKind(StrEnum):
    LAPSE = "lapse"  # a person must reconnect
    EXPIRING = "expiring"  # a token that cannot be refreshed will lapse soon
    FAILING = "failing"  # transient faults that have lasted
    OUTAGE = "outage"  # most of a provider's checks fail at once


class Incident(IdMixin, Base):
    """One lapse (or warning) of one scope, from detection to recovery."""

    __tablename__ = "incidents"
    __table_args__ = (
        # At most one open incident of a kind per scope: the database enforces it.
        Index(
            "uq_incidents_open_per_scope",
            "scope_key",
            "kind",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index(None, "organization_id", "opened_at"),
        Index(None, "authorization_id"),
        Index(None, "connection_id"),
    )

    # None for provider incidents: an outage is everyone's.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    scope: Mapped[str] = mapped_column(String(20))
    # "authorization:<id>", "connection:<id>" or "provider:<key>".
    scope_key: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(40))
    authorization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("authorizations.id", ondelete="SET NULL")
    )
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("connections.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    # How it ended: "recovered" (a check succeeded), "reconnected", "disconnected", "deleted".
    closed_how: Mapped[str | None] = mapped_column(String(20), default=None)


class IncidentClient(Base):
    """A client whose reports an incident affects."""

    __tablename__ = "incident_clients"

    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True, index=True
    )
