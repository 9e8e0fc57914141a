import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base, IdMixin, utcnow
from tether.kit.crypto import Sealed


class Event(StrEnum):
    AUTHORIZATION_LAPSED = "authorization.lapsed"
    CONNECTION_LAPSED = "connection.lapsed"
    AUTHORIZATION_EXPIRING = "authorization.expiring"
    AUTHORIZATION_RESTORED = "authorization.restored"
    CONNECTION_RESTORED = "connection.restored"
    PROVIDER_OUTAGE = "provider.outage"
    PROVIDER_OUTAGE_ENDED = "provider.outage_ended"


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"


class Notification(IdMixin, Base):
    """One in-app notification of one event to one member."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("incident_id", "member_id", "event"),
        Index(None, "member_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set when the lapse it told of is over (reconnected or recovered).
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)


class EmailDelivery(IdMixin, Base):
    """One event to be emailed to one member: the outbox row the sender works from."""

    __tablename__ = "email_deliveries"
    __table_args__ = (
        UniqueConstraint("incident_id", "member_id", "event"),
        Index(None, "sent_at", "due_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(40))
    # "individual": its own email; "digest": one email with the recipient's others of the window.
    grouping: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # Set when the mail server refused it for good, or it failed too many times: never retried.
    abandoned_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookEndpoint(IdMixin, Base):
    """Where an organization wants its events POSTed, signed with the endpoint's secret."""

    __tablename__ = "webhook_endpoints"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[Sealed]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(IdMixin, Base):
    """One event for one endpoint, and every attempt to deliver it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "incident_id", "event"),
        Index(None, "delivered_at", "next_attempt_at"),
        Index(None, "endpoint_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    # None for a test-send.
    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE")
    )
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set when Tether stopped trying (a day of failures).
    abandoned_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class NotificationPreference(Base):
    """A member's choice for one event on one channel (absent: the default applies)."""

    __tablename__ = "notification_preferences"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    event: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    enabled: Mapped[bool]
