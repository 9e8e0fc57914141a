"""SQL for the integrations view: one row per authorization/account, with its clients."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.models import Account, Authorization, Connection, Status


def _rows(organization_id: uuid.UUID) -> Any:
    clients = (
        select(Connection.account_id, func.count(func.distinct(Connection.client_id)).label("n"))
        .where(Connection.organization_id == organization_id)
        .group_by(Connection.account_id)
        .subquery()
    )
    # An account shows the worse of its own status and its authorization's.
    status = case(
        (Authorization.status == Status.NEEDS_RECONNECT, Status.NEEDS_RECONNECT),
        (Account.status == Status.NEEDS_RECONNECT, Status.NEEDS_RECONNECT),
        (Authorization.status == Status.FAILING, Status.FAILING),
        else_=Account.status,
    ).label("status")
    return (
        select(
            Account.id,
            Account.name.label("label"),
            Account.external_id.label("identifier"),
            Authorization.id.label("authorization_id"),
            Authorization.provider,
            Authorization.role,
            Authorization.external_user_name.label("signed_in_as"),
            Authorization.message,
            func.coalesce(clients.c.n, 0).label("clients"),
            status,
        )
        .join(Authorization, Authorization.id == Account.authorization_id)
        .outerjoin(clients, clients.c.account_id == Account.id)
        .where(Account.organization_id == organization_id)
    )


async def page(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    provider: str | None,
    status: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[Any], int]:
    rows = _rows(organization_id).subquery()
    stmt = select(rows)
    if provider:
        stmt = stmt.where(rows.c.provider == provider)
    if status:
        stmt = stmt.where(rows.c.status == status)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    column = rows.c[sort]
    stmt = stmt.order_by(column.desc() if descending else column.asc(), rows.c.id)
    result = await session.execute(stmt.limit(limit).offset(offset))
    return result.all(), total or 0


async def clients_of(
    session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID
) -> Sequence[Connection]:
    stmt = (
        select(Connection)
        .where(Connection.organization_id == organization_id, Connection.account_id == account_id)
        .order_by(Connection.client_name)
    )
    return (await session.scalars(stmt)).all()


async def account_exists(
    session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID
) -> bool:
    stmt = select(Account.id).where(
        Account.id == account_id, Account.organization_id == organization_id
    )
    return (await session.scalar(stmt)) is not None
