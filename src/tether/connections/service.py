"""Connections: a client's use of one account through one authorization."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.authorizations import repository as authorizations
from tether.clients.service import get_client
from tether.connections import repository
from tether.connections.repository import ConnectionFilter
from tether.db import utcnow
from tether.errors import Conflict, NotFound, Unprocessable
from tether.kit.pagination import Page, Sort, decode_cursor, paginate
from tether.models import Account, Authorization, Connection
from tether.models.status import Status, worse

SORTS = ("client_name", "provider", "account_name", "account_external_id", "status",
         "last_synced_at", "created_at")  # fmt: skip


async def connect_client(
    session: AsyncSession,
    *,
    actor: Actor,
    client_id: uuid.UUID,
    account_id: uuid.UUID | None = None,
    provider: str | None = None,
    external_id: str | None = None,
) -> Connection:
    """Connect a client to an account: one given by id, or by its external id under the
    provider's main authorization."""
    actor.require_writer("connect clients")
    client = await get_client(session, actor=actor, client_id=client_id)
    account, authorization = await _resolve_account(
        session, actor, account_id=account_id, provider=provider, external_id=external_id
    )
    duplicate = await repository.find_duplicate(
        session, client.id, authorization.provider, account.external_id
    )
    if duplicate is not None:
        raise Conflict(
            f"{client.name} is already connected to {account.name} ({account.external_id}).",
            code="duplicate_connection",
        )
    connection = Connection(
        organization_id=actor.organization_id,
        client_id=client.id,
        authorization_id=authorization.id,
        account_id=account.id,
        provider=authorization.provider,
        status=worse(authorization.status, account.status),
        reason=authorization.reason,
        message=authorization.message,
        client_name=client.name,
        account_name=account.name,
        account_external_id=account.external_id,
        last_synced_at=account.last_synced_at,
        # The initial load: the scheduler's next tick loads its history.
        next_sync_at=utcnow(),
    )
    session.add(connection)
    await session.flush()
    return connection


async def _resolve_account(
    session: AsyncSession,
    actor: Actor,
    *,
    account_id: uuid.UUID | None,
    provider: str | None,
    external_id: str | None,
) -> tuple[Account, Authorization]:
    if account_id is not None:
        account = await authorizations.get_account(session, actor.organization_id, account_id)
        if account is None:
            raise Unprocessable("No such account in this organization.", code="unknown_account")
        authorization = await authorizations.get(
            session, actor.organization_id, account.authorization_id
        )
        assert authorization is not None  # an account cannot outlive its authorization
        return account, authorization
    if not provider or not external_id:
        raise Unprocessable(
            "Give either account_id, or provider and external_id.", code="account_required"
        )
    main = await authorizations.main_for(session, actor.organization_id, provider)
    if main is None:
        raise Unprocessable(
            f"No data source of {provider!r} is connected yet.", code="not_connected"
        )
    account = await authorizations.account_by_external_id(session, main.id, external_id)
    if account is None:
        raise Unprocessable(
            f"The main {provider} authorization cannot reach account {external_id!r}.",
            code="unknown_account",
        )
    return account, main


async def get_connection(
    session: AsyncSession, *, actor: Actor, connection_id: uuid.UUID
) -> Connection:
    connection = await repository.get(session, actor.organization_id, connection_id)
    if connection is None or not actor.can_see_client(connection.client_id):
        raise NotFound("No such connection.")
    return connection


def visible(
    actor: Actor,
    *,
    statuses: tuple[str, ...] = (),
    provider: str | None = None,
    client_id: uuid.UUID | None = None,
    authorization_id: uuid.UUID | None = None,
) -> ConnectionFilter:
    """The filter that scopes any connection query to what the actor may see."""
    if client_id is not None and not actor.can_see_client(client_id):
        raise NotFound("No such client.")
    visible_to = None if actor.client_ids is None else actor.member_id
    return ConnectionFilter(
        actor.organization_id, visible_to, statuses, provider, client_id, authorization_id
    )


async def list_connections(
    session: AsyncSession, *, where: ConnectionFilter, sort: Sort, cursor: str | None, limit: int
) -> Page[Connection]:
    after = decode_cursor(cursor, sort) if cursor else None
    rows = await repository.page(session, where, sort=sort, after=after, limit=limit)
    return paginate(rows, sort=sort, limit=limit, key=sort.field)


async def count_connections(session: AsyncSession, *, where: ConnectionFilter) -> dict[str, int]:
    """Connections per status (every status present, zero included) and the total."""
    found = await repository.counts_by_status(session, where)
    counts = {status.value: found.get(status.value, 0) for status in Status}
    return {**counts, "total": sum(counts.values())}
