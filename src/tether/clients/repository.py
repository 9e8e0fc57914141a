"""SQL for clients."""

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tether.kit.locks_repository import lock_in_order
from tether.models import Authorization, Client, Connection


async def existing_ids(
    session: AsyncSession, organization_id: uuid.UUID, client_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    if not client_ids:
        return set()
    stmt = select(Client.id).where(
        Client.organization_id == organization_id, Client.id.in_(client_ids)
    )
    return set((await session.scalars(stmt)).all())


async def get(
    session: AsyncSession, organization_id: uuid.UUID, client_id: uuid.UUID
) -> Client | None:
    stmt = select(Client).where(Client.id == client_id, Client.organization_id == organization_id)
    return await session.scalar(stmt)


async def get_by_name(
    session: AsyncSession, organization_id: uuid.UUID, name: str
) -> Client | None:
    stmt = select(Client).where(Client.organization_id == organization_id, Client.name == name)
    return await session.scalar(stmt)


async def get_by_name_any_case(
    session: AsyncSession, organization_id: uuid.UUID, name: str
) -> Client | None:
    """A client whose name is this one but for letter case (the first by name, if several)."""
    stmt = (
        select(Client)
        .where(Client.organization_id == organization_id, func.lower(Client.name) == name.lower())
        .order_by(Client.name, Client.id)
        .limit(1)
    )
    return await session.scalar(stmt)


def _visible(
    organization_id: uuid.UUID, client_ids: frozenset[uuid.UUID] | None, search: str | None
) -> Select[Client]:
    stmt = select(Client).where(Client.organization_id == organization_id)
    if client_ids is not None:
        stmt = stmt.where(Client.id.in_(client_ids))
    if search:
        stmt = stmt.where(Client.name.ilike(f"%{search}%"))
    return stmt


async def list_visible(
    session: AsyncSession,
    organization_id: uuid.UUID,
    client_ids: frozenset[uuid.UUID] | None,
    *,
    search: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Client], int]:
    stmt = _visible(organization_id, client_ids, search)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    return await _first_by_name(session, stmt, limit, offset), total or 0


async def _first_by_name(
    session: AsyncSession, stmt: Select[Client], limit: int, offset: int = 0
) -> Sequence[Client]:
    rows = await session.scalars(stmt.order_by(Client.name, Client.id).limit(limit).offset(offset))
    return rows.all()


async def suggested(
    session: AsyncSession,
    organization_id: uuid.UUID,
    client_ids: frozenset[uuid.UUID] | None,
    search: str | None,
    limit: int,
) -> Sequence[Client]:
    """The first clients by name whose name contains `search`, uncounted: a substring matches
    through no index, so counting every match would read every name a second time."""
    return await _first_by_name(session, _visible(organization_id, client_ids, search), limit)


async def connection_count(session: AsyncSession, client_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(Connection.client_id == client_id)
    return (await session.scalar(stmt)) or 0


async def rename_in_connections(session: AsyncSession, client_id: uuid.UUID, name: str) -> None:
    """The connections of several authorizations: those first, in order (kit.locks_repository)."""
    used = select(Connection.authorization_id).where(Connection.client_id == client_id).distinct()
    await lock_in_order(session, Authorization, (await session.scalars(used)).all())
    await session.execute(
        update(Connection).where(Connection.client_id == client_id).values(client_name=name)
    )
