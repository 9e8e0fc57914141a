"""What members see and choose: their notifications, and how they want to hear."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.db import utcnow
from tether.errors import Conflict, NotFound
from tether.health import repository as health_repository
from tether.kit.pagination import Page, Sort, decode_cursor, paginate
from tether.models import (
    Channel,
    EmailDelivery,
    Event,
    Incident,
    IncidentKind,
    Member,
    Notification,
    Role,
)
from tether.notifications import email_repository, repository
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


@dataclass(frozen=True, slots=True)
class UndeliveredEmail:
    """An email Tether gave up on, and the member it was for."""

    delivery: EmailDelivery
    member: Member

    @property
    def id(self) -> uuid.UUID:
        return self.delivery.id

    @property
    def abandoned_at(self) -> object:
        return self.delivery.abandoned_at


async def undelivered_emails(
    session: AsyncSession, *, actor: Actor, cursor: str | None, limit: int
) -> Page[UndeliveredEmail]:
    """The organization's emails that were abandoned, the last abandoned first (admins only)."""
    actor.require_admin("see undelivered emails")
    sort = email_repository.ABANDONED_NEWEST_FIRST
    after = decode_cursor(cursor, sort) if cursor else None
    rows = await email_repository.abandoned_page(
        session, actor.organization_id, after=after, limit=limit
    )
    members = await email_repository.members_by_id(session, list({r.member_id for r in rows}))
    items = [UndeliveredEmail(r, members[r.member_id]) for r in rows]
    return paginate(items, sort=sort, limit=limit, key="abandoned_at")


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
    affected = await health_repository.affected_clients(session, list(incidents))
    items = []
    for notification in rows:
        incident = incidents[notification.incident_id]
        clients = affected[incident.id]
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


async def clear_preference(
    session: AsyncSession, *, actor: Actor, event: Event, channel: Channel
) -> None:
    """Drop the member's choice for one event and channel: the default applies again."""
    await repository.clear_preference(session, actor.member_id, event, channel)


async def reconnect_target_of(
    session: AsyncSession, *, actor: Actor, notification_id: uuid.UUID
) -> Target:
    """What to reconnect to end the lapse a member's notification tells of, while it lasts."""
    notification = await repository.get_notification(session, actor.member_id, notification_id)
    if notification is None:
        raise NotFound("No such notification.")
    incident = (await repository.incidents_by_id(session, [notification.incident_id]))[
        notification.incident_id
    ]
    target = reconnect_target(incident)
    if target is None or notification.event not in LAPSES or notification.resolved_at is not None:
        raise Conflict("This lapse is over: there is nothing to reconnect.", code="lapse_over")
    return target


@dataclass(frozen=True, slots=True)
class OpenLapse:
    """The lapse a reconnect link is for, and how many of its clients the member may see."""

    incident: Incident
    visible_clients: int
    hidden_clients: int


async def open_lapse(session: AsyncSession, *, actor: Actor, target: Target) -> OpenLapse | None:
    """The open lapse (or expiry warning) of a link's target; None once it is over."""
    incident = await repository.open_lapse_of(
        session,
        actor.organization_id,
        target.authorization_id,
        target.connection_id,
        (IncidentKind.LAPSE, IncidentKind.EXPIRING),
    )
    if incident is None:
        return None
    seen = await repository.count_affected_clients(session, incident.id, actor.client_ids)
    total = (
        seen
        if actor.client_ids is None
        else await repository.count_affected_clients(session, incident.id, None)
    )
    return OpenLapse(incident, seen, total - seen)
