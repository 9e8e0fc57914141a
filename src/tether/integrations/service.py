"""The integrations view: each account an authorization reaches, and who uses it."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tether.errors import NotFound
from tether.integrations import repository
from tether.kit.pagination import parse_sort
from tether.members.actor import Actor
from tether.models import Connection

SORTS = ("label", "identifier", "clients", "status", "provider")


async def list_integrations(
    session: AsyncSession,
    *,
    actor: Actor,
    provider: str | None,
    status: str | None,
    sort: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Any], int]:
    order = parse_sort(sort, SORTS, "label")
    return await repository.page(
        session,
        actor.organization_id,
        provider=provider,
        status=status,
        sort=order.field,
        descending=order.descending,
        limit=limit,
        offset=offset,
    )


async def clients_of(
    session: AsyncSession, *, actor: Actor, account_id: uuid.UUID
) -> Sequence[Connection]:
    """The connections (one per client) using this account, as far as the actor may see."""
    if not await repository.account_exists(session, actor.organization_id, account_id):
        raise NotFound("No such integration.")
    connections = await repository.clients_of(session, actor.organization_id, account_id)
    return [c for c in connections if actor.can_see_client(c.client_id)]
