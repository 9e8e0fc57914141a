"""SQL for the data sync: due connections, metric days, lost days, what coverage reads."""

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tether.connections.repository import ConnectionFilter
from tether.kit.due_repository import hand_out_due, move_free
from tether.kit.inserts_repository import insert_ignoring_conflicts, insert_into
from tether.models import (
    Account,
    Authorization,
    Connection,
    Incident,
    IncidentKind,
    IncidentScope,
    LostDay,
    MetricDay,
    Organization,
    Status,
)

# Connections the sync leaves alone: switched off, or waiting for a person to sign in again.
_NOT_SYNCED = (Status.DISCONNECTED, Status.NEEDS_RECONNECT)


async def due_connection_ids(
    session: AsyncSession, now: datetime, limit: int
) -> Sequence[uuid.UUID]:
    stmt = (
        select(Connection.id)
        .where(Connection.next_sync_at <= now, Connection.status.not_in(_NOT_SYNCED))
        .order_by(Connection.next_sync_at)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def oldest_due_sync(session: AsyncSession, now: datetime) -> datetime | None:
    """When the sync due longest ago (and not handed out) fell due, if any is due."""
    stmt = select(func.min(Connection.next_sync_at)).where(
        Connection.next_sync_at <= now, Connection.status.not_in(_NOT_SYNCED)
    )
    return await session.scalar(stmt)


async def postpone(
    session: AsyncSession, ids: Sequence[uuid.UUID], now: datetime, until: datetime
) -> set[uuid.UUID]:
    """Move due work out of the scheduler's sight until `until`, while a worker has it;
    returns the ids moved (not those another transaction holds: they come round again)."""
    return await hand_out_due(session, Connection.next_sync_at, ids, now, until)


async def put_off(session: AsyncSession, connection_id: uuid.UUID, until: datetime) -> None:
    """Not due again before `until` (unless another transaction holds it: it is being changed,
    and is planned again at its next pass)."""
    await move_free(session, Connection, [connection_id], [], {"next_sync_at": until})


async def make_due(
    session: AsyncSession,
    now: datetime,
    *,
    authorization_id: uuid.UUID | None = None,
    connection_id: uuid.UUID | None = None,
) -> None:
    """Sync these connections (one, or every one of an authorization) at the next tick."""
    # Rows already due are left alone: rewriting an indexed column of 10,000 rows for nothing
    # costs a reconnect about a second on PostgreSQL.
    stmt = update(Connection).where(
        Connection.status != Status.DISCONNECTED,
        or_(Connection.next_sync_at.is_(None), Connection.next_sync_at > now),
    )
    if connection_id is not None:
        stmt = stmt.where(Connection.id == connection_id)
    elif authorization_id is not None:
        stmt = stmt.where(Connection.authorization_id == authorization_id)
    else:
        return
    await session.execute(
        stmt.values(next_sync_at=now).execution_options(synchronize_session=False)
    )


async def get_connection(session: AsyncSession, connection_id: uuid.UUID) -> Connection | None:
    return await session.get(Connection, connection_id, populate_existing=True)


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    return await session.get(Account, account_id, populate_existing=True)


async def authorization_ids_of(
    session: AsyncSession, connection_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    stmt = select(Connection.id, Connection.authorization_id).where(
        Connection.id.in_(connection_ids)
    )
    return {c: a for c, a in (await session.execute(stmt)).all()}


async def days_of(
    session: AsyncSession,
    model: type[MetricDay | LostDay],
    connection_ids: Sequence[uuid.UUID],
    start: date,
    end: date,
) -> dict[uuid.UUID, set[date]]:
    """The days in [start, end] that have a row of this table, per connection."""
    found: dict[uuid.UUID, set[date]] = {c: set() for c in connection_ids}
    stmt = select(model.connection_id, model.day).where(
        model.connection_id.in_(connection_ids), model.day >= start, model.day <= end
    )
    for connection_id, day in (await session.execute(stmt)).all():
        found[connection_id].add(day)
    return found


async def upsert_days(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Write metric days; a day loaded before is replaced (providers restate recent days)."""
    if not rows:
        return
    stmt = insert_into(session, MetricDay)
    replaced = {
        name: stmt.excluded[name]
        for name in ("impressions", "clicks", "conversions", "spend", "currency", "loaded_at")
    }
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["connection_id", "day"], set_=replaced), rows
    )


async def add_lost_days(
    session: AsyncSession, connection_id: uuid.UUID, days: Sequence[date], reason: str
) -> None:
    if not days:
        return
    rows = [{"connection_id": connection_id, "day": d, "reason": reason} for d in days]
    await insert_ignoring_conflicts(session, LostDay, rows)


async def forget_lost_days(
    session: AsyncSession, connection_id: uuid.UUID, days: Sequence[date]
) -> None:
    """Days the provider served after all are no longer lost."""
    if days:
        await session.execute(
            delete(LostDay).where(LostDay.connection_id == connection_id, LostDay.day.in_(days))
        )


async def metric_days(
    session: AsyncSession, connection_id: uuid.UUID, start: date, end: date
) -> Sequence[MetricDay]:
    stmt = (
        select(MetricDay)
        .where(
            MetricDay.connection_id == connection_id, MetricDay.day >= start, MetricDay.day <= end
        )
        .order_by(MetricDay.day)
    )
    return (await session.scalars(stmt)).all()


async def incidents_touching(
    session: AsyncSession, connections: Sequence[Connection], since: datetime
) -> Sequence[Incident]:
    """Lapse and failing incidents of these connections or their authorizations, open since
    `since` or later."""
    if not connections:
        return []
    stmt = select(Incident).where(
        Incident.kind.in_([IncidentKind.LAPSE, IncidentKind.FAILING]),
        or_(Incident.closed_at.is_(None), Incident.closed_at >= since),
        or_(
            Incident.connection_id.in_([c.id for c in connections]),
            (Incident.connection_id.is_(None))
            & Incident.authorization_id.in_({c.authorization_id for c in connections}),
        ),
    )
    return (await session.scalars(stmt)).all()


# What the Coverage screen reads beyond the API's coverage: counts from the connections table
# alone (never the metric days of every connection), and the incidents behind a gap.


async def lapsed_account_count(session: AsyncSession, where: ConnectionFilter) -> int:
    """How many accounts behind the filter's connections need reconnecting (its status
    filter ignored)."""
    stmt = where.apply(
        select(func.count(func.distinct(Connection.account_id))), with_status=False
    ).where(Connection.status == Status.NEEDS_RECONNECT)
    return int(await session.scalar(stmt) or 0)


def _began(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def behind_counts(
    session: AsyncSession, where: ConnectionFilter, days: Sequence[date]
) -> tuple[int, int]:
    """Of the filter's connections that are switched on (its status filter ignored): how many
    were last loaded before the last of `days` began, and how many of `days` they miss in all
    (a day is missed by a connection last loaded before it began)."""
    if not days:
        return 0, 0
    synced = Connection.last_synced_at
    before = [or_(synced.is_(None), synced < _began(d)) for d in days]
    # Only the connections behind are read: in a healthy fleet, a few.
    stmt = where.apply(
        select(func.count(), *(func.count().filter(b) for b in before[:-1])), with_status=False
    ).where(Connection.status != Status.DISCONNECTED, before[-1])
    behind, *per_day = (await session.execute(stmt)).one()
    return int(behind), int(behind) + sum(int(n) for n in per_day)


async def incidents_over(
    session: AsyncSession,
    connections: Sequence[Connection],
    since: datetime,
    until: datetime | None = None,
) -> Sequence[Incident]:
    """Lapse and failing incidents of these connections or their authorizations, and outages
    of their providers, that were open at some moment in [since, until), oldest first."""
    if not connections:
        return []
    stmt = select(Incident).where(
        or_(
            and_(
                Incident.kind.in_([IncidentKind.LAPSE, IncidentKind.FAILING]),
                or_(
                    Incident.connection_id.in_([c.id for c in connections]),
                    Incident.connection_id.is_(None)
                    & Incident.authorization_id.in_({c.authorization_id for c in connections}),
                ),
            ),
            and_(
                Incident.kind == IncidentKind.OUTAGE,
                Incident.scope == IncidentScope.PROVIDER,
                Incident.provider.in_({c.provider for c in connections}),
            ),
        ),
        or_(Incident.closed_at.is_(None), Incident.closed_at >= since),
    )
    if until is not None:
        stmt = stmt.where(Incident.opened_at < until)
    return (await session.scalars(stmt.order_by(Incident.opened_at, Incident.id))).all()


async def plan_rows(session: AsyncSession, ids: Sequence[uuid.UUID]) -> Sequence[Any]:
    """What planning a sync reads of each connection: its account and its authorization."""
    stmt = (
        select(
            Connection.id,
            Connection.provider,
            Connection.status,
            Connection.account_id,
            Connection.account_external_id,
            Connection.sync_interval_hours,
            Account.currency,
            Account.manager_external_id,
            Authorization,
        )
        .join(Authorization, Authorization.id == Connection.authorization_id)
        .join(Account, Account.id == Connection.account_id)
        .where(Connection.id.in_(ids))
    )
    return (await session.execute(stmt)).all()


async def days_counted(
    session: AsyncSession, ids: Sequence[uuid.UUID], start: date, end: date
) -> dict[uuid.UUID, int]:
    """How many days of [start, end] each connection has loaded (none: left out)."""
    counted = select(MetricDay.connection_id, func.count()).where(
        MetricDay.connection_id.in_(ids), MetricDay.day >= start, MetricDay.day <= end
    )
    grouped = await session.execute(counted.group_by(MetricDay.connection_id))
    return {connection_id: n for connection_id, n in grouped}


async def forget_days(session: AsyncSession, connection_id: uuid.UUID) -> None:
    """Delete every day loaded and every day recorded lost of the connection."""
    for model in (MetricDay, LostDay):
        await session.execute(delete(model).where(model.connection_id == connection_id))


async def connection_ids(session: AsyncSession, organization: str | None) -> list[uuid.UUID]:
    """Every connection not switched off, or those of the organization of this name."""
    stmt = select(Connection.id).where(Connection.status != Status.DISCONNECTED)
    if organization:
        stmt = stmt.join(Organization).where(Organization.name == organization)
    return list((await session.scalars(stmt)).all())
