"""SQL for notifications: recipients, preferences, and the outbox rows."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tether.models import (
    Authorization,
    Incident,
    IncidentClient,
    Member,
    MemberClientAccess,
    Notification,
    NotificationPreference,
    WebhookEndpoint,
)


async def members_of(session: AsyncSession, organization_id: uuid.UUID) -> Sequence[Member]:
    return (
        await session.scalars(select(Member).where(Member.organization_id == organization_id))
    ).all()


async def client_access(
    session: AsyncSession, member_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    stmt = select(MemberClientAccess.member_id, MemberClientAccess.client_id).where(
        MemberClientAccess.member_id.in_(member_ids)
    )
    access: dict[uuid.UUID, set[uuid.UUID]] = {m: set() for m in member_ids}
    for member_id, client_id in (await session.execute(stmt)).all():
        access[member_id].add(client_id)
    return access


async def preferences(
    session: AsyncSession, member_ids: Sequence[uuid.UUID], event: str
) -> dict[tuple[uuid.UUID, str], bool]:
    stmt = select(NotificationPreference).where(
        NotificationPreference.member_id.in_(member_ids), NotificationPreference.event == event
    )
    return {(p.member_id, p.channel): p.enabled for p in (await session.scalars(stmt)).all()}


async def preferences_of(
    session: AsyncSession, member_id: uuid.UUID
) -> Sequence[NotificationPreference]:
    stmt = select(NotificationPreference).where(NotificationPreference.member_id == member_id)
    return (await session.scalars(stmt)).all()


async def set_preference(
    session: AsyncSession, member_id: uuid.UUID, event: str, channel: str, enabled: bool
) -> None:
    existing = await session.get(NotificationPreference, (member_id, event, channel))
    if existing is None:
        session.add(
            NotificationPreference(
                member_id=member_id, event=event, channel=channel, enabled=enabled
            )
        )
    else:
        existing.enabled = enabled
    await session.flush()


async def organizations_using(session: AsyncSession, provider: str) -> Sequence[uuid.UUID]:
    stmt = (
        select(Authorization.organization_id).where(Authorization.provider == provider).distinct()
    )
    return (await session.scalars(stmt)).all()


async def subscribed_endpoints(
    session: AsyncSession, organization_id: uuid.UUID, event: str
) -> list[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.organization_id == organization_id, WebhookEndpoint.active.is_(True)
    )
    return [e for e in (await session.scalars(stmt)).all() if event in e.events]


async def resolve_notifications(
    session: AsyncSession, incident_id: uuid.UUID, now: datetime
) -> None:
    await session.execute(
        update(Notification)
        .where(Notification.incident_id == incident_id, Notification.resolved_at.is_(None))
        .values(resolved_at=now)
        .execution_options(synchronize_session=False)
    )


async def notifications_page(
    session: AsyncSession,
    member_id: uuid.UUID,
    *,
    unread_only: bool,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Notification]:
    stmt = select(Notification).where(Notification.member_id == member_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before is not None:
        at, notification_id = before
        stmt = stmt.where(
            (Notification.created_at < at)
            | ((Notification.created_at == at) & (Notification.id < notification_id))
        )
    stmt = stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit + 1)
    return (await session.scalars(stmt)).all()


async def unread_count(session: AsyncSession, member_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(
        Notification.member_id == member_id, Notification.read_at.is_(None)
    )
    return (await session.scalar(stmt)) or 0


async def mark_read(
    session: AsyncSession, member_id: uuid.UUID, now: datetime, notification_id: uuid.UUID | None
) -> int:
    stmt = update(Notification).where(
        Notification.member_id == member_id, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    result = await session.execute(
        stmt.values(read_at=now).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def get_notification(
    session: AsyncSession, member_id: uuid.UUID, notification_id: uuid.UUID
) -> Notification | None:
    stmt = select(Notification).where(
        Notification.id == notification_id, Notification.member_id == member_id
    )
    return await session.scalar(stmt)


async def incidents_by_id(
    session: AsyncSession, incident_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Incident]:
    rows = await session.scalars(select(Incident).where(Incident.id.in_(incident_ids)))
    return {incident.id: incident for incident in rows.all()}


async def clear_preference(
    session: AsyncSession, member_id: uuid.UUID, event: str, channel: str
) -> None:
    """Forget a member's choice, so the default applies again."""
    existing = await session.get(NotificationPreference, (member_id, event, channel))
    if existing is not None:
        await session.delete(existing)
        await session.flush()


async def open_lapse_of(
    session: AsyncSession,
    organization_id: uuid.UUID,
    authorization_id: uuid.UUID | None,
    connection_id: uuid.UUID | None,
    kinds: Sequence[str],
) -> Incident | None:
    """The open incident of exactly this authorization (or connection): a lapse before an expiry
    warning ("lapse" sorts after "expiring"), then the oldest."""
    stmt = select(Incident).where(
        Incident.organization_id == organization_id,
        Incident.kind.in_(kinds),
        Incident.closed_at.is_(None),
        Incident.authorization_id == authorization_id,
    )
    if connection_id is None:
        stmt = stmt.where(Incident.connection_id.is_(None))
    else:
        stmt = stmt.where(Incident.connection_id == connection_id)
    return await session.scalar(
        stmt.order_by(Incident.kind.desc(), Incident.opened_at, Incident.id).limit(1)
    )


async def count_affected_clients(
    session: AsyncSession, incident_id: uuid.UUID, among: frozenset[uuid.UUID] | None
) -> int:
    """How many clients an incident affects (only those in `among`, when given)."""
    stmt = select(func.count()).where(IncidentClient.incident_id == incident_id)
    if among is not None:
        stmt = stmt.where(IncidentClient.client_id.in_(among))
    return (await session.scalar(stmt)) or 0
