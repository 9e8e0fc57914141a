"""SQL for the authorization counts the database keeps (models/authorization_count.py): reading
them, and folding PostgreSQL's pending changes into them (kit/kept_counts_repository.py)."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.kit import kept_counts_repository as kept
from tether.models import AuthorizationCount, AuthorizationCountChange, Status


async def by_provider(
    session: AsyncSession, organization_id: uuid.UUID, provider: str | None = None
) -> Sequence[tuple[str, int, int, int]]:
    """Per provider the organization has authorizations of (or for one): how many, how many
    need reconnecting, how many fail. A few kept rows, however many authorizations."""
    rows = kept.rows(AuthorizationCount, AuthorizationCountChange, organization_id, provider)

    def of(status: Status) -> Any:
        return func.coalesce(func.sum(case((rows.c.status == status, rows.c.n), else_=0)), 0)

    stmt = (
        select(rows.c.provider, func.sum(rows.c.n), of(Status.NEEDS_RECONNECT), of(Status.FAILING))
        .group_by(rows.c.provider)
        .order_by(rows.c.provider)
    )
    found = [(p, int(n), int(lapsed), int(failing)) for p, n, lapsed, failing in
             await session.execute(stmt)]  # fmt: skip
    return [row for row in found if row[1]]


async def fold(session: AsyncSession) -> int:
    """Fold pending changes into the counts (PostgreSQL; SQLite has none). Returns how many
    counts changed."""
    return await kept.fold(
        session, AuthorizationCount.__tablename__, AuthorizationCountChange.__tablename__
    )
