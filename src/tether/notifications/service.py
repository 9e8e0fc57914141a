"""What members see and choose: their notifications, and how they want to hear."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from tether.db import utcnow
from tether.errors import NotFound
from tether.kit.pagination import Page, Sort, decode_cursor, paginate
from tether.members.actor import Actor
from tether.models import Channel, Event, Incident, Notification, Role
from tether.notifications import repository
from tether.notifications.links import Target, reconnect_url

_NEWEST_FIRST = Sort("created_at", descending=True)
LAPSES = (Event.AUTHORIZATION_LAPSED, Event.CONNECTION_LAPSED, Event.AUTHORIZATION_EXPIRING)


@dataclass(frozen=True, slots=True)
class NotificationRow:
    notification: Notification
    clients: list[str]
    reconnect_url: str | None

    @property
    def id(self) -> uuid.UUID:
        return self.notification.id

    @property
    def created_at(self) -> object:
        return self.notification.created_at


def reconnect_target(incident: Incident) -> Target | None:
    """What a member must reconnect to end this incident, if anything."""
    if incident.organization_id is None or incident.authorization_id is None:
        return None
    return Target(incident.organization_id, incident.authorization_id, incident.connection_id)


async def list_notifications(
    session: AsyncSession,
    *,
    actor: Actor,
    public_url: str,
    unread_only: bool,
    cursor: str | None,
    limit: int,
) -> Page[NotificationRow]:
    """The member's notifications, newest first, with a reconnect link while one is needed."""
    before = decode_cursor(cursor, _NEWEST_FIRST) if cursor else None
    rows = await repository.notifications_page(
        session, actor.member_id, unread_only=unread_only, before=before, limit=limit
    )
    incidents = await repository.incidents_by_id(session, [n.incident_id for n in rows])
    items = []
    for notification in rows:
        incident = incidents[notification.incident_id]
        clients = await repository.affected_clients(session, incident.id)
        target = reconnect_target(incident)
        open_lapse = notification.event in LAPSES and notification.resolved_at is None
        items.append(
            NotificationRow(
                notification,
                [name for client_id, name in clients if actor.can_see_client(client_id)],
                reconnect_url(public_url, target) if target and open_lapse else None,
            )
        )
    return paginate(items, sort=_NEWEST_FIRST, limit=limit, key="created_at")


async def unread_count(session: AsyncSession, *, actor: Actor) -> int:
    return await repository.unread_count(session, actor.member_id)


async def mark_read(
    session: AsyncSession, *, actor: Actor, notification_id: uuid.UUID | None = None
) -> int:
    """Mark one notification (or all of them) read; returns how many changed."""
    if notification_id is not None:
        found = await repository.get_notification(session, actor.member_id, notification_id)
        if found is None:
            raise NotFound("No such notification.")
    return await repository.mark_read(session, actor.member_id, utcnow(), notification_id)


def default_for(actor: Actor, channel: Channel) -> str:
    """What happens without a choice: in the app, on for admins and staff; by email, on for
    the data sources the member connected."""
    if channel == Channel.IN_APP:
        return "on" if actor.role in (Role.ADMIN, Role.STAFF) else "off"
    return "sources you connected"


async def preferences(
    session: AsyncSession, *, actor: Actor
) -> list[tuple[Event, Channel, bool | None, str]]:
    """Every (event, channel): the member's choice (None: the default) and the default."""
    own = await repository.preferences_of(session, actor.member_id)
    chosen = {(p.event, p.channel): p.enabled for p in own}
    return [
        (event, channel, chosen.get((event, channel)), default_for(actor, channel))
        for event in Event
        for channel in Channel
    ]


async def set_preference(
    session: AsyncSession, *, actor: Actor, event: Event, channel: Channel, enabled: bool
) -> None:
    await repository.set_preference(session, actor.member_id, event, channel, enabled)
