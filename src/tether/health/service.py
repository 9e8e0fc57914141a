"""What members ask of the health engine: check now, and the incidents it opened."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.errors import NotFound
from tether.health import checks, repository
from tether.health.repository import IncidentFilter
from tether.kit.pagination import Page, Sort, decode_cursor, paginate
from tether.models import Incident

_NEWEST_FIRST = Sort("opened_at", descending=True)


@dataclass(frozen=True, slots=True)
class IncidentRow:
    incident: Incident
    clients: list[tuple[uuid.UUID, str]]

    @property
    def id(self) -> uuid.UUID:
        return self.incident.id

    @property
    def opened_at(self) -> object:
        return self.incident.opened_at


async def check_now(engine: checks.Engine, *, actor: Actor, authorization_id: uuid.UUID) -> None:
    """Check one authorization at once, its accounts included (visibility checked by caller)."""
    await checks.check(engine, authorization_id, accounts=True, actor=actor.audit_name)


def _visible(
    actor: Actor, state: str, provider: str | None, client_id: uuid.UUID | None, kind: str | None
) -> IncidentFilter:
    """The filter that scopes incidents to what the actor may see; a client they cannot see is
    no client of theirs (404, as on the connections list)."""
    if client_id is not None and not actor.can_see_client(client_id):
        raise NotFound("No such client.")
    return IncidentFilter(actor.organization_id, actor.client_ids, state, provider, client_id, kind)


async def list_incidents(
    session: AsyncSession,
    *,
    actor: Actor,
    state: str,
    provider: str | None,
    client_id: uuid.UUID | None,
    kind: str | None,
    cursor: str | None,
    limit: int,
) -> Page[IncidentRow]:
    where = _visible(actor, state, provider, client_id, kind)
    before = decode_cursor(cursor, _NEWEST_FIRST) if cursor else None
    rows = await repository.incidents_page(session, where, before=before, limit=limit)
    clients = await repository.affected_clients(session, [i.id for i in rows])
    return paginate(
        [IncidentRow(i, [c for c in clients[i.id] if actor.can_see_client(c[0])]) for i in rows],
        sort=_NEWEST_FIRST,
        limit=limit,
        key="opened_at",
    )


@dataclass(frozen=True, slots=True)
class IncidentSubjects:
    """Names for what incidents are about: an authorization's sign-in, a connection's client
    and account."""

    authorizations: dict[uuid.UUID, str]
    connections: dict[uuid.UUID, tuple[str, str, str]]


async def count_incidents(
    session: AsyncSession,
    *,
    actor: Actor,
    provider: str | None,
    client_id: uuid.UUID | None,
    kind: str | None,
) -> dict[str, int]:
    """How many incidents the actor may see, open and closed, under the other filters."""
    where = _visible(actor, "all", provider, client_id, kind)
    opened, closed = await repository.incident_counts(session, where)
    return {"open": opened, "closed": closed, "all": opened + closed}


async def incident_subjects(
    session: AsyncSession, *, actor: Actor, rows: Sequence[IncidentRow]
) -> IncidentSubjects:
    """The names of the authorizations and connections of a page of incidents."""
    authorization_ids = {r.incident.authorization_id for r in rows if r.incident.authorization_id}
    connection_ids = {r.incident.connection_id for r in rows if r.incident.connection_id}
    return IncidentSubjects(
        await repository.authorization_names(session, actor.organization_id, authorization_ids),
        await repository.connection_names(
            session, actor.organization_id, connection_ids, actor.client_ids
        ),
    )
