"""/api/v1/connections: every client's use of every account, filtered, sorted and paged."""

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status

from tether.authorizations import manage as authorizations_manage
from tether.authorizations.schemas import OAuthStartRead, ReconnectRequest
from tether.connections import manage, service
from tether.connections.schemas import ConnectionCounts, ConnectionCreate, ConnectionRead
from tether.connections.service import SORTS
from tether.deps import CurrentActor, RegistryDep, SessionDep, SettingsDep
from tether.kit.inputs import Cursor, Limit, ProviderFilter, sort_query
from tether.kit.pagination import parse_sort
from tether.kit.schemas import ListOf, Schema
from tether.models import Status

router = APIRouter(tags=["connections"])

StatusFilter = Annotated[
    list[Status] | None, Query(description="One or more statuses (repeat the parameter).")
]


@router.get("/connections")
async def list_connections(
    session: SessionDep,
    actor: CurrentActor,
    status: StatusFilter = None,
    provider: ProviderFilter = None,
    client_id: uuid.UUID | None = None,
    authorization_id: uuid.UUID | None = None,
    sort: Annotated[str, sort_query(SORTS)] = "client_name",
    cursor: Cursor = None,
    limit: Limit = 50,
) -> ListOf[ConnectionRead]:
    where = service.visible(
        actor,
        statuses=tuple(status or ()),
        provider=provider,
        client_id=client_id,
        authorization_id=authorization_id,
    )
    page = await service.list_connections(
        session,
        where=where,
        sort=parse_sort(sort, SORTS, "client_name"),
        cursor=cursor,
        limit=limit,
    )
    return ListOf(
        data=[ConnectionRead.model_validate(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.get("/connections/counts")
async def count_connections(
    session: SessionDep,
    actor: CurrentActor,
    provider: ProviderFilter = None,
    client_id: uuid.UUID | None = None,
    authorization_id: uuid.UUID | None = None,
) -> ConnectionCounts:
    """How many connections have each status, under the same filters as the list."""
    where = service.visible(
        actor, provider=provider, client_id=client_id, authorization_id=authorization_id
    )
    return ConnectionCounts(**await service.count_connections(session, where=where))


@router.post("/connections", status_code=status.HTTP_201_CREATED)
async def connect_client(
    session: SessionDep, actor: CurrentActor, body: ConnectionCreate
) -> ConnectionRead:
    connection = await service.connect_client(
        session,
        actor=actor,
        client_id=body.client_id,
        account_id=body.account_id,
        provider=body.provider,
        external_id=body.external_id,
    )
    return ConnectionRead.model_validate(connection)


@router.get("/connections/{connection_id}")
async def get_connection(
    session: SessionDep, actor: CurrentActor, connection_id: uuid.UUID
) -> ConnectionRead:
    connection = await service.get_connection(session, actor=actor, connection_id=connection_id)
    return ConnectionRead.model_validate(connection)


class ConnectionSwitch(Schema):
    account_id: uuid.UUID


@router.patch("/connections/{connection_id}")
async def switch_account(
    session: SessionDep, actor: CurrentActor, connection_id: uuid.UUID, body: ConnectionSwitch
) -> ConnectionRead:
    """Move the connection to another account of the same provider, keeping its history."""
    connection = await manage.switch_account(
        session, actor=actor, connection_id=connection_id, account_id=body.account_id
    )
    return ConnectionRead.model_validate(connection)


@router.post("/connections/{connection_id}/disconnect")
async def disconnect(
    session: SessionDep, actor: CurrentActor, connection_id: uuid.UUID
) -> ConnectionRead:
    connection = await manage.disconnect(session, actor=actor, connection_id=connection_id)
    return ConnectionRead.model_validate(connection)


@router.post("/connections/{connection_id}/connect")
async def connect_again(
    session: SessionDep, actor: CurrentActor, connection_id: uuid.UUID
) -> ConnectionRead:
    """Turn a disconnected connection back on."""
    connection = await manage.connect_again(session, actor=actor, connection_id=connection_id)
    return ConnectionRead.model_validate(connection)


@router.post("/connections/{connection_id}/reconnect")
async def reconnect(
    session: SessionDep,
    actor: CurrentActor,
    registry: RegistryDep,
    settings: SettingsDep,
    connection_id: uuid.UUID,
    body: ReconnectRequest | None = None,
) -> OAuthStartRead:
    """Sign in again for this connection's authorization (every client it serves, or, for staff
    who see only some of them, their own clients' connections)."""
    return_to = body.return_to if body else None
    started = await authorizations_manage.start_reconnect(
        session,
        actor=actor,
        registry=registry,
        redirect_uri=settings.oauth_redirect_uri,
        lifetime=timedelta(seconds=settings.oauth_state_lifetime_seconds),
        connection_id=connection_id,
        return_to=return_to,
    )
    return OAuthStartRead(authorize_url=started.authorize_url, expires_at=started.expires_at)
