"""/api/v1/clients."""

import uuid
from datetime import datetime

from fastapi import APIRouter, status

from tether.clients import service
from tether.deps import CurrentActor, SessionDep
from tether.kit.inputs import Limit, Name, Offset, Search
from tether.kit.schemas import Counted, Schema

router = APIRouter(tags=["clients"])


class ClientRead(Schema):
    id: uuid.UUID
    name: str
    created_at: datetime


class ClientWrite(Schema):
    name: Name


@router.get("/clients")
async def list_clients(
    session: SessionDep,
    actor: CurrentActor,
    search: Search = None,
    limit: Limit = 100,
    offset: Offset = 0,
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
