"""/api/v1/integrations: every authorization/account, how many clients use it, its status."""

import uuid
from typing import Annotated

from fastapi import APIRouter

from tether.connections.schemas import ConnectionRead
from tether.deps import CurrentActor, SessionDep
from tether.integrations import service
from tether.kit.inputs import Limit, Offset, ProviderFilter, sort_query
from tether.kit.schemas import Counted, Schema
from tether.models import Status

router = APIRouter(tags=["integrations"])


class IntegrationRead(Schema):
    id: uuid.UUID
    label: str
    identifier: str
    provider: str
    authorization_id: uuid.UUID
    role: str
    signed_in_as: str
    clients: int
    status: str
    message: str | None


@router.get("/integrations")
async def list_integrations(
    session: SessionDep,
    actor: CurrentActor,
    provider: ProviderFilter = None,
    status: Status | None = None,
    sort: Annotated[str, sort_query(service.SORTS)] = "label",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Counted[IntegrationRead]:
    rows, total = await service.list_integrations(
        session,
        actor=actor,
        provider=provider,
        status=status,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return Counted(data=[IntegrationRead.model_validate(r._mapping) for r in rows], total=total)


@router.get("/integrations/{account_id}/clients")
async def integration_clients(
    session: SessionDep, actor: CurrentActor, account_id: uuid.UUID
) -> Counted[ConnectionRead]:
    """The clients using this account: their connections, with status and error message."""
    connections = await service.clients_of(session, actor=actor, account_id=account_id)
    return Counted(
        data=[ConnectionRead.model_validate(c) for c in connections], total=len(connections)
    )
