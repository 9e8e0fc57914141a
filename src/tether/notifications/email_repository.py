"""SQL for email: which outbox rows are due, handing them out, claiming and marking them.

An abandoned row (`abandoned_at` set) is never due, handed out, claimed or retried again."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.kit.due_repository import DueRows
from tether.kit.pagination import Sort, keyset
from tether.models import Authorization, EmailDelivery, Member

DIGEST = "digest"
ABANDONED_NEWEST_FIRST = Sort("abandoned_at", descending=True)
ROWS = DueRows(
    EmailDelivery,
    due_at=EmailDelivery.due_at,
    attempts=EmailDelivery.attempts,
    done_at=EmailDelivery.sent_at,
    abandoned_at=EmailDelivery.abandoned_at,
    last_error=EmailDelivery.last_error,
)
hand_out = ROWS.hand_out
claim = ROWS.claim
mark_sent = ROWS.mark_done
mark_failed = ROWS.mark_failed
mark_abandoned = ROWS.mark_abandoned


async def due_individual_ids(
    session: AsyncSession, now: datetime, limit: int
) -> Sequence[uuid.UUID]:
    """Unsent rows of their own email whose time came, oldest first."""
    stmt = (
        select(EmailDelivery.id)
        .where(
            EmailDelivery.sent_at.is_(None),
            EmailDelivery.abandoned_at.is_(None),
            EmailDelivery.grouping != DIGEST,
            EmailDelivery.due_at <= now,
        )
        .order_by(EmailDelivery.due_at)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def due_digest_groups(
    session: AsyncSession, now: datetime, window_start: datetime, limit: int
) -> list[list[uuid.UUID]]:
    """Unsent digest rows, one list per (member, provider) whose window is over.

    A group is due when its oldest row was written before `window_start` and none of its rows
    is out with a worker or waiting to be retried (every due_at has come)."""
    groups = (
        select(EmailDelivery.member_id, EmailDelivery.provider)
        .where(
            EmailDelivery.sent_at.is_(None),
            EmailDelivery.abandoned_at.is_(None),
            EmailDelivery.grouping == DIGEST,
        )
        .group_by(EmailDelivery.member_id, EmailDelivery.provider)
        .having(
            func.min(EmailDelivery.created_at) <= window_start,
            func.max(EmailDelivery.due_at) <= now,
        )
        .order_by(func.min(EmailDelivery.created_at))
        .limit(limit)
        .subquery()
    )
    stmt = (
        select(EmailDelivery.id, EmailDelivery.member_id, EmailDelivery.provider)
        .join(
            groups,
            and_(
                groups.c.member_id == EmailDelivery.member_id,
                groups.c.provider == EmailDelivery.provider,
            ),
        )
        .where(
            EmailDelivery.sent_at.is_(None),
            EmailDelivery.abandoned_at.is_(None),
            EmailDelivery.grouping == DIGEST,
        )
        .order_by(EmailDelivery.created_at, EmailDelivery.id)
    )
    found: dict[tuple[uuid.UUID, str], list[uuid.UUID]] = {}
    for delivery_id, member_id, provider in (await session.execute(stmt)).all():
        found.setdefault((member_id, provider), []).append(delivery_id)
    return list(found.values())


async def deliveries(session: AsyncSession, ids: Sequence[uuid.UUID]) -> Sequence[EmailDelivery]:
    stmt = (
        select(EmailDelivery)
        .where(EmailDelivery.id.in_(ids))
        .order_by(EmailDelivery.created_at, EmailDelivery.id)
    )
    return (await session.scalars(stmt)).all()


async def members_by_id(
    session: AsyncSession, member_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Member]:
    rows = await session.scalars(select(Member).where(Member.id.in_(member_ids)))
    return {member.id: member for member in rows.all()}


async def authorizations_by_id(
    session: AsyncSession, authorization_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Authorization]:
    rows = await session.scalars(
        select(Authorization).where(Authorization.id.in_(authorization_ids))
    )
    return {authorization.id: authorization for authorization in rows.all()}


async def abandoned_page(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[EmailDelivery]:
    """The organization's abandoned emails, last abandoned first (one extra row tells whether
    a page follows)."""
    stmt = select(EmailDelivery).where(
        EmailDelivery.organization_id == organization_id,
        EmailDelivery.abandoned_at.is_not(None),
    )
    stmt = keyset(
        stmt,
        column=EmailDelivery.abandoned_at,
        id_column=EmailDelivery.id,
        sort=ABANDONED_NEWEST_FIRST,
        after=after,
        limit=limit,
    )
    return (await session.scalars(stmt)).all()


async def unsent_count(session: AsyncSession) -> int:
    """Emails neither sent nor abandoned yet (for /metrics)."""
    stmt = select(func.count()).where(
        EmailDelivery.sent_at.is_(None), EmailDelivery.abandoned_at.is_(None)
    )
    return int(await session.scalar(stmt) or 0)
