"""SQL for authorizations, their accounts, and OAuth attempts."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tether.kit.pagination import AnySelect, Sort, keyset
from tether.models import Account, Authorization, Connection, Member, OAuthState
from tether.models.status import AuthorizationRole


async def get(
    session: AsyncSession, organization_id: uuid.UUID, authorization_id: uuid.UUID
) -> Authorization | None:
    stmt = select(Authorization).where(
        Authorization.id == authorization_id, Authorization.organization_id == organization_id
    )
    return await session.scalar(stmt)


async def list_with_connector(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    provider: str | None = None,
    status: str | None = None,
    authorization_id: uuid.UUID | None = None,
) -> Sequence[tuple[Authorization, Member | None, int]]:
    """Authorizations, newest first per provider, with connector and account count."""
    accounts = (
        select(Account.authorization_id, func.count().label("n"))
        .where(Account.organization_id == organization_id)
        .where(*([Account.authorization_id == authorization_id] if authorization_id else []))
        .group_by(Account.authorization_id)
        .subquery()
    )
    stmt = (
        select(Authorization, Member, func.coalesce(accounts.c.n, 0))
        .outerjoin(Member, Member.id == Authorization.connector_id)
        .outerjoin(accounts, accounts.c.authorization_id == Authorization.id)
        .where(Authorization.organization_id == organization_id)
        .order_by(Authorization.provider, Authorization.created_at.desc())
    )
    if provider:
        stmt = stmt.where(Authorization.provider == provider)
    if status:
        stmt = stmt.where(Authorization.status == status)
    if authorization_id:
        stmt = stmt.where(Authorization.id == authorization_id)
    return [(row[0], row[1], row[2]) for row in (await session.execute(stmt)).all()]


async def demote_others(
    session: AsyncSession, organization_id: uuid.UUID, provider: str, main_id: uuid.UUID
) -> None:
    await session.execute(
        update(Authorization)
        .where(
            Authorization.organization_id == organization_id,
            Authorization.provider == provider,
            Authorization.id != main_id,
        )
        .values(role=AuthorizationRole.SECONDARY)
    )


async def main_for(
    session: AsyncSession, organization_id: uuid.UUID, provider: str
) -> Authorization | None:
    stmt = select(Authorization).where(
        Authorization.organization_id == organization_id,
        Authorization.provider == provider,
        Authorization.role == AuthorizationRole.MAIN,
    )
    return await session.scalar(stmt)


def accounts_query(authorization_id: uuid.UUID) -> AnySelect:
    usage = (
        select(Connection.account_id, func.count().label("n"))
        .where(Connection.authorization_id == authorization_id)
        .group_by(Connection.account_id)
        .subquery()
    )
    return (
        select(Account, func.coalesce(usage.c.n, 0).label("clients"))
        .outerjoin(usage, usage.c.account_id == Account.id)
        .where(Account.authorization_id == authorization_id)
    )


async def accounts_page(
    session: AsyncSession,
    authorization_id: uuid.UUID,
    *,
    sort: Sort,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> Sequence[tuple[Account, int]]:
    column = getattr(Account, sort.field)
    stmt = keyset(
        accounts_query(authorization_id),
        column=column,
        id_column=Account.id,
        sort=sort,
        after=after,
        limit=limit,
        nullable=column.nullable,
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def account_by_external_id(
    session: AsyncSession, authorization_id: uuid.UUID, external_id: str
) -> Account | None:
    stmt = select(Account).where(
        Account.authorization_id == authorization_id, Account.external_id == external_id
    )
    return await session.scalar(stmt)


async def get_account(
    session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID
) -> Account | None:
    stmt = select(Account).where(
        Account.id == account_id, Account.organization_id == organization_id
    )
    return await session.scalar(stmt)


async def state_by_hash(session: AsyncSession, state_hash: str) -> OAuthState | None:
    stmt = select(OAuthState).where(OAuthState.state_hash == state_hash)
    return await session.scalar(stmt)
