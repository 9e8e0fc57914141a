"""SQL for connections: the filtered, sorted, keyset-paged list and its counts."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tether.connections import counts_repository
from tether.kit.pagination import AnySelect, Sort, keyset, keyset_in_parts
from tether.models import Connection, MemberClientAccess


@dataclass(frozen=True, slots=True)
class ConnectionFilter:
    organization_id: uuid.UUID
    # A limited staff member: only the clients their access rows name. Tested row by row
    # (EXISTS on the access table's key), so a page walks the index of its sort and stops at
    # the page's end; a list of thousands of ids led the planners to fetch every row of those
    # clients and sort them (130 ms at a million connections, 5,000 clients).
    visible_to: uuid.UUID | None = None
    statuses: tuple[str, ...] = ()
    provider: str | None = None
    client_id: uuid.UUID | None = None
    authorization_id: uuid.UUID | None = None
    # Connections of these providers are left out (e.g. those without daily loads).
    excluded_providers: frozenset[str] = frozenset()

    def apply(self, stmt: AnySelect, *, with_status: bool = True) -> AnySelect:
        stmt = stmt.where(Connection.organization_id == self.organization_id)
        if self.visible_to is not None:
            stmt = stmt.where(
                exists().where(
                    MemberClientAccess.member_id == self.visible_to,
                    MemberClientAccess.client_id == Connection.client_id,
                )
            )
        if with_status and self.statuses:
            stmt = stmt.where(Connection.status.in_(self.statuses))
        if self.provider:
            stmt = stmt.where(Connection.provider == self.provider)
        if self.client_id:
            stmt = stmt.where(Connection.client_id == self.client_id)
        if self.authorization_id:
            stmt = stmt.where(Connection.authorization_id == self.authorization_id)
        if self.excluded_providers:
            stmt = stmt.where(Connection.provider.not_in(self.excluded_providers))
        return stmt


async def page(
    session: AsyncSession,
    where: ConnectionFilter,
    *,
    sort: Sort,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> Sequence[Connection]:
    column = getattr(Connection, sort.field)
    stmt = where.apply(select(Connection))
    if sort.field == "status" and len(where.statuses) > 1:
        parts = _status_by_status(where, sort, after, limit)
    elif column.nullable:
        parts = keyset_in_parts(
            stmt, column=column, id_column=Connection.id, sort=sort, after=after, limit=limit
        )
    else:
        parts = [
            keyset(
                stmt, column=column, id_column=Connection.id, sort=sort, after=after, limit=limit
            )
        ]
    # The parts in turn, each asked only for what the page still lacks.
    rows: list[Connection] = []
    for part in parts:
        rows += (await session.scalars(part.limit(limit + 1 - len(rows)))).all()
        if len(rows) > limit:
            break
    return rows


def _status_by_status(
    where: ConnectionFilter, sort: Sort, after: tuple[Any, uuid.UUID] | None, limit: int
) -> list[AnySelect]:
    """Sorted by status and filtered by several: one status after another, each a range of the
    (status, id) index. As one statement, PostgreSQL 15 reads `status IN (...)` as a filter on
    an index scan in status order, so a page of the lapsed read every active row first (2.4 s
    at a million connections)."""
    statuses = sorted(set(where.statuses), reverse=sort.descending)
    if after is not None:  # the statuses the cursor has passed are done
        statuses = [s for s in statuses if s == after[0] or (s > after[0]) != sort.descending]
    stmt = where.apply(select(Connection), with_status=False)
    return [
        keyset(
            stmt.where(Connection.status == status),
            column=Connection.status,
            id_column=Connection.id,
            sort=sort,
            after=after if after is not None and status == after[0] else None,
            limit=limit,
        )
        for status in statuses
    ]


async def counts_by_status(session: AsyncSession, where: ConnectionFilter) -> dict[str, int]:
    """How many connections match the filter, per status (the status filter itself ignored).

    Over a whole organization (of one provider, or all but some) this reads the counts the
    database keeps, whatever its size; narrowed to clients or an authorization, it counts their
    rows through the indexes that start with them."""
    if where.visible_to is None and not (where.client_id or where.authorization_id):
        return await counts_repository.by_status(
            session,
            where.organization_id,
            provider=where.provider,
            excluded_providers=where.excluded_providers,
        )
    stmt = where.apply(
        select(Connection.status, func.count()).group_by(Connection.status), with_status=False
    )
    return {status: count for status, count in (await session.execute(stmt)).all()}


async def get(
    session: AsyncSession, organization_id: uuid.UUID, connection_id: uuid.UUID
) -> Connection | None:
    stmt = select(Connection).where(
        Connection.id == connection_id, Connection.organization_id == organization_id
    )
    return await session.scalar(stmt)


async def find_duplicate(
    session: AsyncSession, client_id: uuid.UUID, provider: str, external_id: str
) -> Connection | None:
    stmt = select(Connection).where(
        Connection.client_id == client_id,
        Connection.provider == provider,
        Connection.account_external_id == external_id,
    )
    return await session.scalar(stmt)


async def count_by_provider_and_status(session: AsyncSession) -> dict[tuple[str, str], int]:
    """How many connections each provider has in each status (for /metrics)."""
    return await counts_repository.by_provider_and_status(session)
