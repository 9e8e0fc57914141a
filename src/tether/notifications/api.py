"""/api/v1/notifications, /api/v1/notification-preferences, /api/v1/reconnect-links, and
/api/v1/undelivered-emails (admins only)."""

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import Field

from tether.authorizations.service import get_authorization
from tether.deps import CurrentActor, SessionDep, SettingsDep
from tether.kit.inputs import Cursor, Limit
from tether.kit.schemas import Counted, ListOf, Schema
from tether.models import Channel, Event
from tether.notifications import service
from tether.notifications.links import open_link

router = APIRouter(tags=["notifications"])


class NotificationRead(Schema):
    id: uuid.UUID
    event: str
    provider: str
    clients: list[str]
    message: str
    reconnect_url: str | None
    created_at: datetime
    read_at: datetime | None
    resolved_at: datetime | None


class UnreadCount(Schema):
    unread: int


class MarkedRead(Schema):
    marked: int


class PreferenceRead(Schema):
    event: Event
    channel: Channel
    enabled: bool | None
    default: str


class PreferenceWrite(Schema):
    event: Event
    channel: Channel
    enabled: bool


class UndeliveredEmailRead(Schema):
    id: uuid.UUID
    member_id: uuid.UUID
    member_name: str
    member_email: str
    event: str
    provider: str
    incident_id: uuid.UUID
    attempts: int
    reason: str | None = Field(
        description="Why it was given up: the mail server's answer (e.g. `550 5.1.1 No such "
        "user`), or the last failure once every try was used."
    )
    created_at: datetime
    abandoned_at: datetime


class ReconnectTarget(Schema):
    authorization_id: uuid.UUID | None
    connection_id: uuid.UUID | None
    provider: str
    status: str
    reason: str | None
    message: str | None


@router.get("/notifications")
async def list_notifications(
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    unread: bool = False,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> ListOf[NotificationRead]:
    page = await service.list_notifications(
        session,
        actor=actor,
        public_url=settings.resolved_public_url,
        unread_only=unread,
        cursor=cursor,
        limit=limit,
    )
    data = [
        NotificationRead(
            id=row.notification.id,
            event=row.notification.event,
            provider=row.notification.provider,
            clients=row.clients,
            message=row.notification.message,
            reconnect_url=row.reconnect_url,
            created_at=row.notification.created_at,
            read_at=row.notification.read_at,
            resolved_at=row.notification.resolved_at,
        )
        for row in page.items
    ]
    return ListOf(data=data, next_cursor=page.next_cursor)


@router.get("/notifications/unread-count")
async def unread_count(session: SessionDep, actor: CurrentActor) -> UnreadCount:
    return UnreadCount(unread=await service.unread_count(session, actor=actor))


@router.post("/notifications/read")
async def mark_all_read(session: SessionDep, actor: CurrentActor) -> MarkedRead:
    return MarkedRead(marked=await service.mark_read(session, actor=actor))


@router.post("/notifications/{notification_id}/read")
async def mark_read(
    session: SessionDep, actor: CurrentActor, notification_id: uuid.UUID
) -> MarkedRead:
    marked = await service.mark_read(session, actor=actor, notification_id=notification_id)
    return MarkedRead(marked=marked)


@router.get("/notification-preferences")
async def list_preferences(session: SessionDep, actor: CurrentActor) -> Counted[PreferenceRead]:
    rows = await service.preferences(session, actor=actor)
    data = [PreferenceRead(event=e, channel=c, enabled=on, default=d) for e, c, on, d in rows]
    return Counted(data=data, total=len(data))


@router.put("/notification-preferences")
async def set_preferences(
    session: SessionDep, actor: CurrentActor, body: list[PreferenceWrite]
) -> Counted[PreferenceRead]:
    """Opt in or out, per event and channel."""
    for choice in body:
        await service.set_preference(
            session, actor=actor, event=choice.event, channel=choice.channel, enabled=choice.enabled
        )
    return await list_preferences(session, actor)


@router.get("/undelivered-emails")
async def list_undelivered_emails(
    session: SessionDep, actor: CurrentActor, cursor: Cursor = None, limit: Limit = 50
) -> ListOf[UndeliveredEmailRead]:
    """Emails Tether gave up on, the last given up first: refused for good by the mail server,
    or failed every try (`TETHER_EMAIL_MAX_ATTEMPTS`). Admins only."""
    page = await service.undelivered_emails(session, actor=actor, cursor=cursor, limit=limit)
    return ListOf(data=[_undelivered(item) for item in page.items], next_cursor=page.next_cursor)


def _undelivered(item: service.UndeliveredEmail) -> UndeliveredEmailRead:
    row = item.delivery
    assert row.abandoned_at is not None
    return UndeliveredEmailRead(
        id=row.id,
        member_id=item.member.id,
        member_name=item.member.name,
        member_email=item.member.email,
        event=row.event,
        provider=row.provider,
        incident_id=row.incident_id,
        attempts=row.attempts,
        reason=row.last_error,
        created_at=row.created_at,
        abandoned_at=row.abandoned_at,
    )


@router.get("/reconnect-links/{token}", responses={410: {}})
async def open_reconnect_link(
    session: SessionDep, actor: CurrentActor, token: str
) -> ReconnectTarget:
    """What a reconnect link from an email or notification is for, after checking it."""
    target = open_link(token, actor)
    assert target.authorization_id is not None
    authorization = await get_authorization(
        session, actor=actor, authorization_id=target.authorization_id
    )
    return ReconnectTarget(
        authorization_id=target.authorization_id,
        connection_id=target.connection_id,
        provider=authorization.provider,
        status=authorization.status,
        reason=authorization.reason,
        message=authorization.message,
    )
