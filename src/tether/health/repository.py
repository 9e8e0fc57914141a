"""SQL for the health engine: due work, refresh leases, incidents, statuses that follow."""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tether.db import UTCDateTime
from tether.kit.due_repository import hand_out_due
from tether.kit.locks_repository import free_of
from tether.models import (
    Account,
    Authorization,
    Client,
    Connection,
    Incident,
    IncidentClient,
    Organization,
    Status,
)
from tether.providers.base import Reason


async def due_authorization_ids(
    session: AsyncSession, now: datetime, limit: int
) -> Sequence[uuid.UUID]:
    stmt = (
        select(Authorization.id)
        .where(Authorization.next_check_at <= now)
        .order_by(Authorization.next_check_at)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def oldest_due_check(session: AsyncSession, now: datetime) -> datetime | None:
    """When the check due longest ago (and not handed out) fell due, if any is due."""
    stmt = select(func.min(Authorization.next_check_at)).where(Authorization.next_check_at <= now)
    return await session.scalar(stmt)


async def postpone(
    session: AsyncSession, ids: Sequence[uuid.UUID], now: datetime, until: datetime
) -> set[uuid.UUID]:
    """Move due work out of the scheduler's sight until `until`, while a worker has it;
    returns the ids moved (not those another transaction holds: they come round again)."""
    return await hand_out_due(session, Authorization.next_check_at, ids, now, until)


async def get_authorization(
    session: AsyncSession, authorization_id: uuid.UUID
) -> Authorization | None:
    return await session.get(Authorization, authorization_id, populate_existing=True)


async def authorizations_of(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> Sequence[Authorization]:
    stmt = select(Authorization).where(Authorization.id.in_(ids))
    return (await session.scalars(stmt, execution_options={"populate_existing": True})).all()


async def open_incident_scopes(
    session: AsyncSession, scope_keys: Sequence[str], kinds: Sequence[str]
) -> set[str]:
    """Those of the scopes with an open incident of one of these kinds."""
    stmt = select(Incident.scope_key).where(
        Incident.scope_key.in_(scope_keys), Incident.kind.in_(kinds), Incident.closed_at.is_(None)
    )
    return set((await session.scalars(stmt)).all())


async def mark_checked(
    session: AsyncSession, checked: Sequence[tuple[Authorization, datetime]], now: datetime
) -> set[uuid.UUID]:
    """One UPDATE recording a successful check (checked now, next check at the time given,
    no failures) on each authorization still as it was read (same `updated_at`) and not held by
    another transaction; returns the ids updated."""
    if not checked:
        return set()
    when = UTCDateTime()
    next_at = case({a.id: literal(at, when) for a, at in checked}, value=Authorization.id)
    read_at = case({a.id: literal(a.updated_at, when) for a, _ in checked}, value=Authorization.id)
    stmt = (
        update(Authorization)
        .where(
            Authorization.id.in_(
                free_of(
                    Authorization, [a.id for a, _ in checked], Authorization.updated_at == read_at
                )
            )
        )
        .values(
            last_checked_at=now,
            next_check_at=next_at,
            check_failures=0,
            failing_since=None,
            updated_at=now,
        )
        .returning(Authorization.id)
        .execution_options(synchronize_session=False)
    )
    return set((await session.scalars(stmt)).all())


async def take_refresh_lease(
    session: AsyncSession, authorization_id: uuid.UUID, now: datetime, until: datetime
) -> bool:
    """Claim the right to refresh; true for exactly one of any number of racing workers."""
    result = await session.execute(
        update(Authorization)
        .where(
            Authorization.id == authorization_id,
            or_(
                Authorization.refresh_lease_until.is_(None), Authorization.refresh_lease_until < now
            ),
        )
        .values(refresh_lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release_refresh_lease(session: AsyncSession, authorization_id: uuid.UUID) -> None:
    await session.execute(
        update(Authorization)
        .where(Authorization.id == authorization_id)
        .values(refresh_lease_until=None)
        .execution_options(synchronize_session=False)
    )


async def open_incident(session: AsyncSession, scope_key: str, kind: str) -> Incident | None:
    stmt = select(Incident).where(
        Incident.scope_key == scope_key, Incident.kind == kind, Incident.closed_at.is_(None)
    )
    return await session.scalar(stmt)


async def open_incidents_of(
    session: AsyncSession, scope_keys: Sequence[str], kinds: Sequence[str]
) -> Sequence[Incident]:
    stmt = select(Incident).where(
        Incident.scope_key.in_(scope_keys), Incident.kind.in_(kinds), Incident.closed_at.is_(None)
    )
    return (await session.scalars(stmt)).all()


async def client_ids_of(session: AsyncSession, authorization_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = (
        select(Connection.client_id)
        .where(Connection.authorization_id == authorization_id)
        .where(Connection.status != Status.DISCONNECTED)
        .distinct()
    )
    return list((await session.scalars(stmt)).all())


async def follow_authorization(session: AsyncSession, authorization: Authorization) -> None:
    """Connections on reachable accounts take the authorization's status, reason and message."""
    # NOT IN over the few unreachable accounts: see authorizations.repository.restore_connections.
    unreachable = select(Account.id).where(
        Account.authorization_id == authorization.id, Account.status != Status.ACTIVE
    )
    await session.execute(
        update(Connection)
        .where(
            Connection.authorization_id == authorization.id,
            Connection.status != Status.DISCONNECTED,
            Connection.account_id.not_in(unreachable),
        )
        .values(
            status=authorization.status, reason=authorization.reason, message=authorization.message
        )
        .execution_options(synchronize_session=False)
    )


async def accounts_of(session: AsyncSession, authorization_id: uuid.UUID) -> Sequence[Account]:
    stmt = select(Account).where(Account.authorization_id == authorization_id)
    return (await session.scalars(stmt)).all()


async def connections_on(session: AsyncSession, account_id: uuid.UUID) -> Sequence[Connection]:
    stmt = select(Connection).where(
        Connection.account_id == account_id, Connection.status != Status.DISCONNECTED
    )
    return (await session.scalars(stmt)).all()


async def outage_counts(session: AsyncSession, provider: str, since: datetime) -> tuple[int, int]:
    """Of a provider's authorizations checked since `since`: how many, and how many of those
    failed last with an outage."""
    failing = and_(
        Authorization.status == Status.FAILING, Authorization.reason == Reason.PROVIDER_OUTAGE
    )
    stmt = select(func.count(), func.count().filter(failing)).where(
        Authorization.provider == provider, Authorization.last_checked_at >= since
    )
    total, failed = (await session.execute(stmt)).one()
    return int(total), int(failed)


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    organization_id: uuid.UUID
    visible_client_ids: frozenset[uuid.UUID] | None = None
    state: str = "all"  # "open", "closed" or "all"
    provider: str | None = None
    client_id: uuid.UUID | None = None
    kind: str | None = None


async def incidents_page(
    session: AsyncSession,
    where: IncidentFilter,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Incident]:
    """The organization's incidents and the outages of providers it uses, newest first."""
    used = select(Authorization.provider).where(
        Authorization.organization_id == where.organization_id
    )
    stmt = select(Incident).where(
        or_(
            Incident.organization_id == where.organization_id,
            and_(Incident.organization_id.is_(None), Incident.provider.in_(used)),
        )
    )
    if where.state == "open":
        stmt = stmt.where(Incident.closed_at.is_(None))
    elif where.state == "closed":
        stmt = stmt.where(Incident.closed_at.is_not(None))
    if where.provider:
        stmt = stmt.where(Incident.provider == where.provider)
    if where.kind:
        stmt = stmt.where(Incident.kind == where.kind)
    if where.client_id is not None:
        stmt = stmt.where(_affects([where.client_id]))
    if where.visible_client_ids is not None:
        stmt = stmt.where(
            or_(Incident.organization_id.is_(None), _affects(where.visible_client_ids))
        )
    if before is not None:
        at, incident_id = before
        stmt = stmt.where(
            or_(Incident.opened_at < at, and_(Incident.opened_at == at, Incident.id < incident_id))
        )
    stmt = stmt.order_by(Incident.opened_at.desc(), Incident.id.desc()).limit(limit + 1)
    return (await session.scalars(stmt)).all()


def _affects(client_ids: Iterable[uuid.UUID]) -> ColumnElement[bool]:
    return exists().where(
        IncidentClient.incident_id == Incident.id, IncidentClient.client_id.in_(list(client_ids))
    )


async def affected_clients(
    session: AsyncSession, incident_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    stmt = (
        select(IncidentClient.incident_id, Client.id, Client.name)
        .join(Client, Client.id == IncidentClient.client_id)
        .where(IncidentClient.incident_id.in_(incident_ids))
        .order_by(Client.name)
    )
    found: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {i: [] for i in incident_ids}
    for incident_id, client_id, name in (await session.execute(stmt)).all():
        found[incident_id].append((client_id, name))
    return found


# What the Incidents screen shows beside the list: counts per state, and names for scopes.


def _incident_conditions(where: IncidentFilter) -> list[ColumnElement[bool]]:
    """incidents_page's conditions, the state left out."""
    used = select(Authorization.provider).where(
        Authorization.organization_id == where.organization_id
    )
    conditions = [
        or_(
            Incident.organization_id == where.organization_id,
            and_(Incident.organization_id.is_(None), Incident.provider.in_(used)),
        )
    ]
    if where.provider:
        conditions.append(Incident.provider == where.provider)
    if where.kind:
        conditions.append(Incident.kind == where.kind)
    if where.client_id is not None:
        conditions.append(_affects([where.client_id]))
    if where.visible_client_ids is not None:
        conditions.append(
            or_(Incident.organization_id.is_(None), _affects(where.visible_client_ids))
        )
    return conditions


async def incident_counts(session: AsyncSession, where: IncidentFilter) -> tuple[int, int]:
    """How many incidents match the filter: open, and closed (its state ignored)."""
    is_open = Incident.closed_at.is_(None)
    stmt = select(func.count().filter(is_open), func.count().filter(~is_open)).where(
        *_incident_conditions(where)
    )
    opened, closed = (await session.execute(stmt)).one()
    return int(opened), int(closed)


async def authorization_names(
    session: AsyncSession, organization_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Who each authorization signs in as, on the provider's side."""
    stmt = select(Authorization.id, Authorization.external_user_name).where(
        Authorization.organization_id == organization_id, Authorization.id.in_(list(ids))
    )
    return {row[0]: row[1] for row in (await session.execute(stmt)).all()}


async def connection_names(
    session: AsyncSession,
    organization_id: uuid.UUID,
    ids: Iterable[uuid.UUID],
    visible_client_ids: frozenset[uuid.UUID] | None,
) -> dict[uuid.UUID, tuple[str, str, str]]:
    """Each connection's client, account name and account id, among those one may see."""
    stmt = select(
        Connection.id,
        Connection.client_name,
        Connection.account_name,
        Connection.account_external_id,
    ).where(Connection.organization_id == organization_id, Connection.id.in_(list(ids)))
    if visible_client_ids is not None:
        stmt = stmt.where(Connection.client_id.in_(visible_client_ids))
    return {row[0]: (row[1], row[2], row[3]) for row in (await session.execute(stmt)).all()}


async def open_connection_incident_keys(
    session: AsyncSession, authorization_id: uuid.UUID, active_only: bool
) -> list[str]:
    """Scope keys of the open connection incidents under the authorization whose connection is
    active again (or all of them)."""
    stmt = (
        select(Incident.scope_key)
        .join(Connection, Connection.id == Incident.connection_id)
        .where(Incident.authorization_id == authorization_id, Incident.closed_at.is_(None))
    )
    if active_only:
        stmt = stmt.where(Connection.status == Status.ACTIVE)
    return list((await session.scalars(stmt)).all())


async def authorization_ids(session: AsyncSession, organization: str | None) -> list[uuid.UUID]:
    """Every authorization, or those of the organization of this name."""
    stmt = select(Authorization.id)
    if organization:
        stmt = stmt.join(Organization).where(Organization.name == organization)
    return list((await session.scalars(stmt)).all())
