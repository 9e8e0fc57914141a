"""The integrations view: each account an authorization reaches, and who uses it."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.errors import BadRequest, NotFound
from tether.integrations import repository
from tether.integrations.repository import IntegrationFilter
from tether.kit.pagination import Page, Sort, decode_cursor, paginate, parse_sort
from tether.models import Connection, Status

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
        visible_client_ids=actor.client_ids,
    )


async def clients_of(
    session: AsyncSession, *, actor: Actor, account_id: uuid.UUID
) -> Sequence[Connection]:
    """The connections (one per client) using this account, as far as the actor may see."""
    if not await repository.account_exists(session, actor.organization_id, account_id):
        raise NotFound("No such integration.")
    connections = await repository.clients_of(session, actor.organization_id, account_id)
    return [c for c in connections if actor.can_see_client(c.client_id)]


def visible(
    actor: Actor, *, provider: str | None = None, status: str | None = None
) -> IntegrationFilter:
    """The filter that scopes the integrations list to the actor: staff count only the clients
    they may see."""
    if status and status not in set(Status):
        raise BadRequest(
            f"Unknown status {status!r}: use one of {', '.join(Status)}.", code="invalid_status"
        )
    return IntegrationFilter(
        actor.organization_id, actor.client_ids, provider or None, status or None
    )


@dataclass(frozen=True, slots=True)
class Integration:
    """One account as the integrations list shows it: `clients` counts the clients the member
    may see; `in_use` every client, since an authorization in use cannot be deleted."""

    row: Any
    clients: int
    in_use: bool

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)


async def _counted(
    session: AsyncSession, where: IntegrationFilter, rows: Sequence[Any]
) -> list[Integration]:
    counts = await repository.client_counts(session, where, [r.id for r in rows])
    counted = []
    for row in rows:
        seen, every = counts.get(row.id, (0, 0))
        counted.append(Integration(row, seen, every > 0))
    return counted


async def integrations_page(
    session: AsyncSession, *, where: IntegrationFilter, sort: Sort, cursor: str | None, limit: int
) -> Page[Integration]:
    """One keyset page of accounts, each with its clients, status and authorization."""
    after = decode_cursor(cursor, sort) if cursor else None
    rows = await repository.integrations_page(session, where, sort=sort, after=after, limit=limit)
    page = paginate(rows, sort=sort, limit=limit, key=sort.field)
    return Page(await _counted(session, where, page.items), page.next_cursor)


async def count_integrations(session: AsyncSession, *, where: IntegrationFilter) -> dict[str, int]:
    """Accounts per status (every status present, zero included) and the total."""
    found = await repository.counts_by_status(session, where)
    counts = {status.value: found.get(status.value, 0) for status in Status}
    return {**counts, "total": sum(counts.values())}


async def get_integration(
    session: AsyncSession, *, actor: Actor, account_id: uuid.UUID
) -> Integration:
    """One account as the list shows it."""
    where = IntegrationFilter(actor.organization_id, actor.client_ids, account_id=account_id)
    row = await repository.integration(session, where)
    if row is None:
        raise NotFound("No such integration.")
    return (await _counted(session, where, [row]))[0]


async def clients_page(
    session: AsyncSession,
    *,
    actor: Actor,
    account_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> Page[Connection]:
    """The connections (one per client) using this account that the actor may see, by client."""
    sort = Sort("client_name")
    where = IntegrationFilter(actor.organization_id, actor.client_ids, account_id=account_id)
    after = decode_cursor(cursor, sort) if cursor else None
    rows = await repository.connections_page(session, where, sort=sort, after=after, limit=limit)
    return paginate(rows, sort=sort, limit=limit, key=sort.field)
