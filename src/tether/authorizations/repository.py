"""SQL for authorizations, their accounts, and OAuth attempts."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tether.kit.locks_repository import lock_in_order
from tether.kit.pagination import AnySelect, Sort, keyset
from tether.models import Account, Authorization, Connection, Member, OAuthState, Status
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
    """Every other authorization of the provider becomes secondary: the provider's
    authorizations locked first, in id order (kit.locks_repository)."""
    of_provider = select(Authorization.id).where(
        Authorization.organization_id == organization_id, Authorization.provider == provider
    )
    await lock_in_order(session, Authorization, (await session.scalars(of_provider)).all())
    await session.execute(
        update(Authorization)
        .where(
            Authorization.organization_id == organization_id,
            Authorization.provider == provider,
            Authorization.id != main_id,
        )
        .values(role=AuthorizationRole.SECONDARY)
    )


async def same_user(
    session: AsyncSession, organization_id: uuid.UUID, provider: str, external_user_id: str
) -> Authorization | None:
    """The authorization this platform user already gave the organization for this provider:
    the main one if it is theirs, else their newest."""
    stmt = (
        select(Authorization)
        .where(
            Authorization.organization_id == organization_id,
            Authorization.provider == provider,
            Authorization.external_user_id == external_user_id,
        )
        .order_by(
            (Authorization.role == AuthorizationRole.MAIN).desc(),
            Authorization.created_at.desc(),
        )
        .limit(1)
    )
    return await session.scalar(stmt)


async def main_for(
    session: AsyncSession, organization_id: uuid.UUID, provider: str
) -> Authorization | None:
    stmt = select(Authorization).where(
        Authorization.organization_id == organization_id,
        Authorization.provider == provider,
        Authorization.role == AuthorizationRole.MAIN,
    )
    return await session.scalar(stmt)


def accounts_query(
    authorization_id: uuid.UUID, visible_client_ids: frozenset[uuid.UUID] | None = None
) -> AnySelect:
    """The authorization's accounts, each with how many clients use it (of those visible, when
    given: staff count only their clients)."""
    used = select(Connection.account_id, func.count().label("n")).where(
        Connection.authorization_id == authorization_id
    )
    if visible_client_ids is not None:
        used = used.where(Connection.client_id.in_(visible_client_ids))
    usage = used.group_by(Connection.account_id).subquery()
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
    visible_client_ids: frozenset[uuid.UUID] | None = None,
) -> Sequence[tuple[Account, int]]:
    column = getattr(Account, sort.field)
    stmt = keyset(
        accounts_query(authorization_id, visible_client_ids),
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


async def client_ids_served(session: AsyncSession, authorization_id: uuid.UUID) -> set[uuid.UUID]:
    stmt = select(Connection.client_id).where(Connection.authorization_id == authorization_id)
    return set((await session.scalars(stmt.distinct())).all())


async def set_accounts_status(
    session: AsyncSession, authorization_id: uuid.UUID, status: str
) -> None:
    await session.execute(
        update(Account)
        .where(Account.authorization_id == authorization_id, Account.status != status)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )


async def restore_connections(session: AsyncSession, authorization_id: uuid.UUID) -> int:
    """Every connection on a reachable account of the authorization becomes active."""
    # The few unreachable accounts, not the many reachable ones: a planner without fresh
    # statistics guesses one row for this subquery either way, and with NOT IN that guess is
    # harmless, while with IN it picks a nested loop over every account (seconds at 10,000).
    unreachable = select(Account.id).where(
        Account.authorization_id == authorization_id, Account.status != Status.ACTIVE
    )
    result = await session.execute(
        update(Connection)
        .where(
            Connection.authorization_id == authorization_id,
            Connection.status != Status.DISCONNECTED,
            Connection.account_id.not_in(unreachable),
        )
        .values(status=Status.ACTIVE, reason=None, message=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def account_external_ids(session: AsyncSession, authorization_id: uuid.UUID) -> set[str]:
    stmt = select(Account.external_id).where(Account.authorization_id == authorization_id)
    return set((await session.scalars(stmt)).all())


async def accounts_by_external_id(
    session: AsyncSession, authorization_id: uuid.UUID, external_ids: Sequence[str]
) -> Sequence[Account]:
    if not external_ids:
        return []
    stmt = select(Account).where(
        Account.authorization_id == authorization_id, Account.external_id.in_(external_ids)
    )
    return (await session.scalars(stmt)).all()


async def get_connection(
    session: AsyncSession, organization_id: uuid.UUID, connection_id: uuid.UUID
) -> Connection | None:
    stmt = select(Connection).where(
        Connection.id == connection_id, Connection.organization_id == organization_id
    )
    return await session.scalar(stmt)


async def visible_connections(
    session: AsyncSession, authorization_id: uuid.UUID, client_ids: frozenset[uuid.UUID]
) -> Sequence[Connection]:
    stmt = select(Connection).where(
        Connection.authorization_id == authorization_id, Connection.client_id.in_(client_ids)
    )
    return (await session.scalars(stmt)).all()


async def accounts_of(session: AsyncSession, authorization_id: uuid.UUID) -> Sequence[Account]:
    stmt = select(Account).where(Account.authorization_id == authorization_id)
    return (await session.scalars(stmt)).all()


async def clients_using(
    session: AsyncSession, authorization_id: uuid.UUID
) -> list[tuple[uuid.UUID, str]]:
    """The clients whose connections use this authorization: (id, name), by name."""
    stmt = (
        select(Connection.client_id, Connection.client_name)
        .where(Connection.authorization_id == authorization_id)
        .distinct()
        .order_by(Connection.client_name)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def promote_newest(session: AsyncSession, organization_id: uuid.UUID, provider: str) -> None:
    """After the main authorization is deleted, the newest remaining one becomes main."""
    stmt = (
        select(Authorization)
        .where(Authorization.organization_id == organization_id, Authorization.provider == provider)
        .order_by(Authorization.created_at.desc())
        .limit(1)
    )
    newest = await session.scalar(stmt)
    if newest is not None:
        newest.role = AuthorizationRole.MAIN
        await session.flush()


async def accounts_of_provider(
    session: AsyncSession,
    organization_id: uuid.UUID,
    provider: str,
    *,
    search: str | None,
    limit: int,
) -> Sequence[Account]:
    """Accounts of every authorization of one provider, by name (for choosing one)."""
    stmt = (
        select(Account)
        .join(Authorization, Authorization.id == Account.authorization_id)
        .where(Account.organization_id == organization_id, Authorization.provider == provider)
    )
    if search:
        stmt = stmt.where(Account.name.ilike(f"%{search}%") | (Account.external_id == search))
    return (await session.scalars(stmt.order_by(Account.name, Account.id).limit(limit))).all()


async def authorizations_page(
    session: AsyncSession,
    organization_id: uuid.UUID,
    provider: str | Sequence[str],
    *,
    status: str | None,
    sort: Sort,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> Sequence[tuple[Authorization, Member | None, int]]:
    """A keyset page of one provider's (or a few providers') authorizations, with connector
    and account count."""
    providers = [provider] if isinstance(provider, str) else list(provider)
    accounts = (
        select(func.count())
        .where(Account.authorization_id == Authorization.id)
        .correlate(Authorization)
        .scalar_subquery()
    )
    stmt = (
        select(Authorization, Member, accounts)
        .outerjoin(Member, Member.id == Authorization.connector_id)
        .where(
            Authorization.organization_id == organization_id,
            Authorization.provider.in_(providers),
        )
    )
    if status:
        stmt = stmt.where(Authorization.status == status)
    stmt = keyset(
        stmt,
        column=getattr(Authorization, sort.field),
        id_column=Authorization.id,
        sort=sort,
        after=after,
        limit=limit,
    )
    return [(row[0], row[1], int(row[2])) for row in (await session.execute(stmt)).all()]


async def client_counts(
    session: AsyncSession,
    organization_id: uuid.UUID,
    authorization_ids: Sequence[uuid.UUID],
    visible_client_ids: frozenset[uuid.UUID] | None = None,
) -> dict[uuid.UUID, tuple[int, int]]:
    """For each of these authorizations any client uses: how many clients use it (of those
    visible, when given), and how many in all (an authorization in use cannot be deleted)."""
    if not authorization_ids:
        return {}
    every = func.count(func.distinct(Connection.client_id))
    seen = every
    if visible_client_ids is not None:
        visible = Connection.client_id.in_(visible_client_ids)
        seen = func.count(func.distinct(case((visible, Connection.client_id))))
    stmt = (
        select(Connection.authorization_id, seen, every)
        .where(
            Connection.organization_id == organization_id,
            Connection.authorization_id.in_(authorization_ids),
        )
        .group_by(Connection.authorization_id)
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in (await session.execute(stmt)).all()}


async def providers_in_use(session: AsyncSession, organization_id: uuid.UUID) -> list[str]:
    stmt = select(Authorization.provider).where(Authorization.organization_id == organization_id)
    return sorted((await session.scalars(stmt.distinct())).all())


async def count_by_provider_and_status(session: AsyncSession) -> dict[tuple[str, str], int]:
    """How many authorizations each provider has in each status (for /metrics)."""
    stmt = select(Authorization.provider, Authorization.status, func.count()).group_by(
        Authorization.provider, Authorization.status
    )
    return {(provider, status): n for provider, status, n in (await session.execute(stmt)).all()}
