"""SQL for invitations: finding them, listing them, and their email's due work."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.kit.due_repository import DueRows
from tether.models import Invitation, Member, Organization

EMAIL = DueRows(
    Invitation,
    due_at=Invitation.email_due_at,
    attempts=Invitation.email_attempts,
    done_at=Invitation.email_sent_at,
    abandoned_at=Invitation.email_abandoned_at,
    last_error=Invitation.email_last_error,
)


async def get(
    session: AsyncSession, organization_id: uuid.UUID, invitation_id: uuid.UUID
) -> Invitation | None:
    stmt = select(Invitation).where(
        Invitation.id == invitation_id, Invitation.organization_id == organization_id
    )
    return await session.scalar(stmt)


async def by_email(
    session: AsyncSession, organization_id: uuid.UUID, email: str
) -> Invitation | None:
    stmt = select(Invitation).where(
        Invitation.organization_id == organization_id, Invitation.email == email
    )
    return await session.scalar(stmt)


async def list_all(session: AsyncSession, organization_id: uuid.UUID) -> Sequence[Invitation]:
    stmt = (
        select(Invitation)
        .where(Invitation.organization_id == organization_id)
        .order_by(Invitation.created_at.desc(), Invitation.id)
    )
    return (await session.scalars(stmt)).all()


async def with_senders(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> Sequence[tuple[Invitation, Organization, Member | None]]:
    """These invitations with their organization and whoever invited (None if since removed)."""
    stmt = (
        select(Invitation, Organization, Member)
        .join(Organization, Organization.id == Invitation.organization_id)
        .outerjoin(Member, Member.id == Invitation.invited_by_id)
        .where(Invitation.id.in_(ids))
        .order_by(Invitation.created_at, Invitation.id)
    )
    return [(i, o, m) for i, o, m in (await session.execute(stmt)).all()]
