"""/api/v1/authorizations/{id}/check and /api/v1/incidents."""

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request

from tether.authorizations.api import authorization_read
from tether.authorizations.permissions import require_acting_for_everyone
from tether.authorizations.schemas import AuthorizationRead
from tether.authorizations.service import get_authorization
from tether.deps import ActorApart, CurrentActor, SessionDep, SessionsDep
from tether.health import service
from tether.kit.inputs import Cursor, Limit, ProviderFilter
from tether.kit.schemas import ListOf, Schema
from tether.models import IncidentKind

router = APIRouter(tags=["health"])


class ClientRef(Schema):
    id: uuid.UUID
    name: str


class IncidentRead(Schema):
    id: uuid.UUID
    scope: str
    kind: str
    provider: str
    authorization_id: uuid.UUID | None
    connection_id: uuid.UUID | None
    reason: str
    message: str
    affected_clients: list[ClientRef]
    opened_at: datetime
    closed_at: datetime | None
    closed_how: str | None


@router.post("/authorizations/{authorization_id}/check")
async def check_authorization(
    request: Request, sessions: SessionsDep, actor: ActorApart, authorization_id: uuid.UUID
) -> AuthorizationRead:
    """Check the authorization now (refreshing its token if due) and return what was found."""
    async with sessions.begin() as session:
        a = await get_authorization(session, actor=actor, authorization_id=authorization_id)
        await require_acting_for_everyone(session, actor, a, "check it now")
    # The engine records what it saw in transactions of its own; none is held while it waits.
    await service.check_now(
        request.app.state.runtime.health, actor=actor, authorization_id=authorization_id
    )
    async with sessions.begin() as session:
        return await authorization_read(session, actor, authorization_id)


@router.get("/incidents")
async def list_incidents(
    session: SessionDep,
    actor: CurrentActor,
    state: Literal["open", "closed", "all"] = "all",
    provider: ProviderFilter = None,
    client_id: uuid.UUID | None = None,
    kind: IncidentKind | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> ListOf[IncidentRead]:
    page = await service.list_incidents(
        session,
        actor=actor,
        state=state,
        provider=provider,
        client_id=client_id,
        kind=kind,
        cursor=cursor,
        limit=limit,
    )
    data = [
        IncidentRead(
            id=row.incident.id,
            scope=row.incident.scope,
            kind=row.incident.kind,
            provider=row.incident.provider,
            authorization_id=row.incident.authorization_id,
            connection_id=row.incident.connection_id,
            reason=row.incident.reason,
            message=row.incident.message,
            affected_clients=[ClientRef(id=i, name=n) for i, n in row.clients],
            opened_at=row.incident.opened_at,
            closed_at=row.incident.closed_at,
            closed_how=row.incident.closed_how,
        )
        for row in page.items
    ]
    return ListOf(data=data, next_cursor=page.next_cursor)
