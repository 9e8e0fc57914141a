"""SQL for the integrations view: one row per authorization/account, with its clients."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.kit.pagination import Sort, keyset
from tether.models import Account, Authorization, Connection, Status
from tether.models.status import worse


def _rows(
    organization_id: uuid.UUID, visible_client_ids: frozenset[uuid.UUID] | None = None
) -> Any:
    counted = select(
        Connection.account_id, func.count(func.distinct(Connection.client_id)).label("n")
    ).where(Connection.organization_id == organization_id)
    if visible_client_ids is not None:
        # Staff count only the clients they may see.
        counted = counted.where(Connection.client_id.in_(visible_client_ids))
    clients = counted.group_by(Connection.account_id).subquery()
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
    visible_client_ids: frozenset[uuid.UUID] | None = None,
) -> tuple[Sequence[Any], int]:
    rows = _rows(organization_id, visible_client_ids).subquery()
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


# The web screen's list: keyset pages, and counts by status that never touch connections.


@dataclass(frozen=True, slots=True)
class IntegrationFilter:
    organization_id: uuid.UUID
    visible_client_ids: frozenset[uuid.UUID] | None = None
    provider: str | None = None
    status: str | None = None
    account_id: uuid.UUID | None = None


def _status() -> ColumnElement[str]:
    """An account shows the worse of its own status and its authorization's."""
    return case(
        (Authorization.status == Status.NEEDS_RECONNECT, Status.NEEDS_RECONNECT.value),
        (Account.status == Status.NEEDS_RECONNECT, Status.NEEDS_RECONNECT.value),
        (Authorization.status == Status.FAILING, Status.FAILING.value),
        else_=Account.status,
    )


def _client_count(where: IntegrationFilter, *, grouped: bool) -> tuple[Any, Any]:
    """How many clients use each account, for sorting by it: a column, and the grouped
    subquery to outer-join for it (None when the column is a correlated count)."""
    if not grouped:
        used = select(func.count()).where(Connection.account_id == Account.id)
        if where.visible_client_ids is not None:
            used = used.where(Connection.client_id.in_(where.visible_client_ids))
        return used.scalar_subquery(), None
    # A client uses an account at most once, so its connections count its clients.
    counted = select(Connection.account_id, func.count().label("n")).where(
        Connection.organization_id == where.organization_id
    )
    if where.visible_client_ids is not None:
        counted = counted.where(Connection.client_id.in_(where.visible_client_ids))
    joined = counted.group_by(Connection.account_id).subquery()
    return func.coalesce(joined.c.n, 0), joined


def _sorting_count(session: AsyncSession, where: IntegrationFilter) -> tuple[Any, Any]:
    """Every account's client count, to sort by: PostgreSQL is faster with one grouped pass
    over the organization's connections, SQLite with one index lookup per account."""
    return _client_count(where, grouped=session.get_bind().dialect.name == "postgresql")


def _listed(where: IntegrationFilter, *, count: tuple[Any, Any] | None = None) -> Any:
    """One row per account with its authorization and status (and, given a count from
    `_client_count`, its client count: a page sorted by it needs it for its cursor)."""
    columns: list[Any] = [
        Account.id,
        Account.name.label("label"),
        Account.external_id.label("identifier"),
        Account.last_synced_at,
        Authorization.id.label("authorization_id"),
        Authorization.provider,
        Authorization.role,
        Authorization.external_user_name.label("signed_in_as"),
        Authorization.connector_id,
        Authorization.reason,
        Authorization.message,
        _status().label("status"),
    ]
    if count is not None:
        columns.append(count[0].label("clients"))
    stmt = (
        select(*columns)
        .join(Authorization, Authorization.id == Account.authorization_id)
        .where(Account.organization_id == where.organization_id)
    )
    if count is not None and count[1] is not None:
        stmt = stmt.outerjoin(count[1], count[1].c.account_id == Account.id)
    if where.provider:
        stmt = stmt.where(Authorization.provider == where.provider)
    if where.account_id is not None:
        stmt = stmt.where(Account.id == where.account_id)
    return stmt.subquery()


async def integrations_page(
    session: AsyncSession,
    where: IntegrationFilter,
    *,
    sort: Sort,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> Sequence[Any]:
    """Sorted by an account's own column or its clients, the page is found among the accounts
    alone, then joined to its authorizations: that join is what costs most when every account
    of the organization has to be sorted. Sorts and filters on the authorization's columns
    (provider, status) join first. The client counts of a page sorted otherwise are left to
    `client_counts`, for its rows only."""
    if sort.field in ("label", "identifier", "clients") and not where.status:
        return await _page_by_account(session, where, sort=sort, after=after, limit=limit)
    count = _sorting_count(session, where) if sort.field == "clients" else None
    rows = _listed(where, count=count)
    stmt = select(rows)
    if where.status:
        stmt = stmt.where(rows.c.status == where.status)
    stmt = keyset(
        stmt, column=rows.c[sort.field], id_column=rows.c.id, sort=sort, after=after, limit=limit
    )
    return (await session.execute(stmt)).all()


async def _page_by_account(
    session: AsyncSession,
    where: IntegrationFilter,
    *,
    sort: Sort,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> Sequence[Any]:
    columns = {"label": Account.name, "identifier": Account.external_id}
    joined = None
    if sort.field == "clients":
        column, joined = _sorting_count(session, where)
    else:
        column = columns[sort.field]
    found = select(Account.id).where(Account.organization_id == where.organization_id)
    if joined is not None:
        found = found.outerjoin(joined, joined.c.account_id == Account.id)
    if where.provider:
        found = found.where(Account.authorization_id.in_(_of_provider(where)))
    found = keyset(found, column=column, id_column=Account.id, sort=sort, after=after, limit=limit)
    ids = list((await session.scalars(found)).all())
    if not ids:
        return []
    # The page's own counts, for its cursor: a lookup per row is the cheapest way to them.
    count = _client_count(where, grouped=False) if sort.field == "clients" else None
    rows = _listed(where, count=count)
    stmt = select(rows).where(rows.c.id.in_(ids))
    by_id = {row.id: row for row in (await session.execute(stmt)).all()}
    return [by_id[i] for i in ids]


async def integration(session: AsyncSession, where: IntegrationFilter) -> Any | None:
    rows = _listed(where)
    return (await session.execute(select(rows))).first()


async def client_counts(
    session: AsyncSession, where: IntegrationFilter, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """For each of these accounts that any client uses: how many clients the filter lets one
    see, and how many in all (an authorization in use cannot be deleted)."""
    if not account_ids:
        return {}
    seen: Any = func.count()
    if where.visible_client_ids is not None:
        seen = func.count().filter(Connection.client_id.in_(where.visible_client_ids))
    stmt = (
        select(Connection.account_id, seen, func.count())
        .where(Connection.account_id.in_(account_ids))
        .group_by(Connection.account_id)
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in (await session.execute(stmt)).all()}


async def counts_by_status(session: AsyncSession, where: IntegrationFilter) -> dict[str, int]:
    """How many accounts match the filter, per status (the status filter itself ignored).

    Counted per account status first, without a join; then the accounts of the few lapsed or
    failing authorizations are moved to the status they show."""
    own = select(Account.status, func.count()).where(
        Account.organization_id == where.organization_id
    )
    if where.provider:
        own = own.where(Account.authorization_id.in_(_of_provider(where)))
    counts: dict[str, int] = {}
    for status, n in (await session.execute(own.group_by(Account.status))).all():
        counts[status] = counts.get(status, 0) + int(n)
    unwell = (
        select(Authorization.status, Account.status, func.count())
        .join(Account, Account.authorization_id == Authorization.id)
        .where(
            Authorization.organization_id == where.organization_id,
            Authorization.status.in_((Status.NEEDS_RECONNECT, Status.FAILING)),
        )
        .group_by(Authorization.status, Account.status)
    )
    if where.provider:
        unwell = unwell.where(Authorization.provider == where.provider)
    for authorization_status, account_status, n in (await session.execute(unwell)).all():
        shown = worse(authorization_status, account_status)
        counts[account_status] -= int(n)
        counts[shown] = counts.get(shown, 0) + int(n)
    return counts


def _of_provider(where: IntegrationFilter) -> Any:
    return select(Authorization.id).where(
        Authorization.organization_id == where.organization_id,
        Authorization.provider == where.provider,
    )


async def connections_page(
    session: AsyncSession,
    where: IntegrationFilter,
    *,
    sort: Sort,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> Sequence[Connection]:
    """The connections using one account, as far as the filter lets one see."""
    stmt = select(Connection).where(
        Connection.organization_id == where.organization_id,
        Connection.account_id == where.account_id,
    )
    if where.visible_client_ids is not None:
        stmt = stmt.where(Connection.client_id.in_(where.visible_client_ids))
    stmt = keyset(
        stmt,
        column=getattr(Connection, sort.field),
        id_column=Connection.id,
        sort=sort,
        after=after,
        limit=limit,
    )
    return (await session.scalars(stmt)).all()
