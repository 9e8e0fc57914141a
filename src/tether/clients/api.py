"""/api/v1/clients."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import Field

from tether.clients import service
from tether.deps import CurrentActor, SessionDep
from tether.kit.schemas import Counted, Schema

router = APIRouter(tags=["clients"])


class ClientRead(Schema):
    id: uuid.UUID
    name: str
    created_at: datetime


class ClientWrite(Schema):
    name: str = Field(min_length=1, max_length=200)


@router.get("/clients")
async def list_clients(
    session: SessionDep,
    actor: CurrentActor,
    search: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Counted[ClientRead]:
    clients, total = await service.list_clients(
        session, actor=actor, search=search, limit=limit, offset=offset
    )
    return Counted(data=[ClientRead.model_validate(c) for c in clients], total=total)


@router.post("/clients", status_code=status.HTTP_201_CREATED)
async def create_client(session: SessionDep, actor: CurrentActor, body: ClientWrite) -> ClientRead:
    client = await service.create_client(session, actor=actor, name=body.name)
    return ClientRead.model_validate(client)


@router.get("/clients/{client_id}")
async def get_client(session: SessionDep, actor: CurrentActor, client_id: uuid.UUID) -> ClientRead:
    return ClientRead.model_validate(
        await service.get_client(session, actor=actor, client_id=client_id)
    )


@router.patch("/clients/{client_id}")
async def rename_client(
    session: SessionDep, actor: CurrentActor, client_id: uuid.UUID, body: ClientWrite
) -> ClientRead:
    client = await service.rename_client(session, actor=actor, client_id=client_id, name=body.name)
    return ClientRead.model_validate(client)


@router.delete("/clients/{client_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_client(session: SessionDep, actor: CurrentActor, client_id: uuid.UUID) -> None:
    await service.delete_client(session, actor=actor, client_id=client_id)
