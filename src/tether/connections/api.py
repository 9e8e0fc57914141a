"""/api/v1/connections: every client's use of every account, filtered, sorted and paged."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from tether.connections import service
from tether.connections.schemas import ConnectionCounts, ConnectionCreate, ConnectionRead
from tether.connections.service import SORTS
from tether.deps import CurrentActor, SessionDep
from tether.kit.pagination import check_limit, parse_sort
from tether.kit.schemas import ListOf
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
    provider: str | None = None,
    client_id: uuid.UUID | None = None,
    authorization_id: uuid.UUID | None = None,
    sort: Annotated[str, Query(description=f"One of {', '.join(SORTS)}; '-' reverses.")] = (
        "client_name"
    ),
    cursor: str | None = None,
    limit: int = 50,
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
        limit=check_limit(limit),
    )
    return ListOf(
        data=[ConnectionRead.model_validate(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.get("/connections/counts")
async def count_connections(
    session: SessionDep,
    actor: CurrentActor,
    provider: str | None = None,
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
