"""Clients: the agency's customers whose reports use the data."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.clients import repository
from tether.errors import Conflict, Forbidden, NotFound, Unprocessable
from tether.models import Client, Role


def may_add_clients(actor: Actor) -> bool:
    """Whether the actor may add clients: not viewers, and not limited staff, who would not
    see a client they added."""
    return actor.role != Role.VIEWER and actor.client_ids is None


def require_may_add_clients(actor: Actor) -> None:
    actor.require_writer("add clients")
    if not may_add_clients(actor):
        raise Forbidden("Only admins and staff with access to every client can add clients.")


async def create_client(session: AsyncSession, *, actor: Actor, name: str) -> Client:
    """Add a client; limited staff cannot, as they would not see it afterwards."""
    require_may_add_clients(actor)
    return await add_client(session, organization_id=actor.organization_id, name=name)


async def add_client(session: AsyncSession, *, organization_id: uuid.UUID, name: str) -> Client:
    name = name.strip()
    if not name:
        raise Unprocessable("A client needs a name.", code="client_name_missing")
    if await repository.get_by_name(session, organization_id, name) is not None:
        raise Conflict(f"A client called {name!r} already exists.", code="client_exists")
    client = Client(organization_id=organization_id, name=name)
    session.add(client)
    await session.flush()
    return client


async def get_client(session: AsyncSession, *, actor: Actor, client_id: uuid.UUID) -> Client:
    """A client the actor may see; any other gets the same 404 as one that does not exist."""
    client = await repository.get(session, actor.organization_id, client_id)
    if client is None or not actor.can_see_client(client.id):
        raise NotFound("No such client.")
    return client


async def list_clients(
    session: AsyncSession, *, actor: Actor, search: str | None, limit: int, offset: int
) -> tuple[Sequence[Client], int]:
    return await repository.list_visible(
        session, actor.organization_id, actor.client_ids, search=search, limit=limit, offset=offset
    )


async def suggest_clients(
    session: AsyncSession, *, actor: Actor, search: str | None, limit: int
) -> Sequence[Client]:
    """The first clients by name matching `search`, for a filter's suggestions (no total)."""
    return await repository.suggested(
        session, actor.organization_id, actor.client_ids, search, limit
    )


async def rename_client(
    session: AsyncSession, *, actor: Actor, client_id: uuid.UUID, name: str
) -> Client:
    actor.require_writer("rename clients")
    client = await get_client(session, actor=actor, client_id=client_id)
    name = name.strip()
    if name != client.name:
        other = await repository.get_by_name(session, actor.organization_id, name)
        if other is not None:
            raise Conflict(f"A client called {name!r} already exists.", code="client_exists")
        client.name = name
        await repository.rename_in_connections(session, client.id, name)
        await session.flush()
    return client


async def delete_client(session: AsyncSession, *, actor: Actor, client_id: uuid.UUID) -> None:
    """Remove a client that has no connections left."""
    actor.require_admin("delete clients")
    client = await get_client(session, actor=actor, client_id=client_id)
    count = await repository.connection_count(session, client.id)
    if count:
        raise Conflict(
            f"{client.name} still has {count} connection(s); disconnect them first.",
            code="client_in_use",
        )
    await session.delete(client)
    await session.flush()


async def find_client(session: AsyncSession, *, actor: Actor, name: str) -> Client | None:
    """The client of this exact name, if the actor may see it."""
    client = await repository.get_by_name(session, actor.organization_id, name.strip())
    return client if client is not None and actor.can_see_client(client.id) else None


async def find_client_any_case(session: AsyncSession, *, actor: Actor, name: str) -> Client | None:
    """A client the actor may see whose name is this one but for letter case and spaces around."""
    client = await repository.get_by_name_any_case(session, actor.organization_id, name.strip())
    return client if client is not None and actor.can_see_client(client.id) else None
