"""Writing what a provider call returned, and recording a sync's success, in few round trips.

A worker runs dozens of syncs on one event loop, and each statement it sends to the database
makes the loop wait for another process (on a busy machine, for a CPU). So a call's days and
the connection's success go to PostgreSQL as one statement (`_SAVE`), in a transaction of its
own (autocommit: no BEGIN and COMMIT round trips), unless days must also be recorded lost or
found again. The days travel as one array per column, `unnest`ed by PostgreSQL: the driver
encodes arrays in C, where an executemany of 90 row dictionaries had SQLAlchemy render a
multi-row VALUES and process every bind of every row (about 1 ms of CPU per connection).

The accounts' and authorizations' `last_synced_at` are written once per batch
(`mark_synced`), in one transaction that locks the authorizations first, in id order, as
every writer does (`kit.locks_repository`); a call's days lock only their connection, in a
statement of its own, so storing a sync's results never holds one row while waiting for
another.

SQLite takes the same steps as separate statements in one transaction.
"""

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Update, bindparam, case, func, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tether.db import UTCDateTime
from tether.kit.locks_repository import lock_in_order
from tether.models import Account, Authorization, Connection
from tether.providers.base import DailyMetrics
from tether.sync import repository
from tether.sync.days import DayRange
from tether.sync.plan import Plan

# `planned`: the connection as planned (not deleted, not switched to another account), locked
# until the statement ends, so a switch or a delete that comes at the same moment either waits
# for these days (and deletes them) or makes this statement write nothing. `recorded`: the
# success, when asked (`:record`), as `_RECORD_*` below.
_SAVE = text(
    """
    WITH planned AS (
        SELECT id FROM connections
        WHERE id = CAST(:connection_id AS uuid) AND account_id = CAST(:account_id AS uuid)
        FOR NO KEY UPDATE
    ), stored AS (
        INSERT INTO metric_days
            (connection_id, day, impressions, clicks, conversions, spend, currency, loaded_at)
        SELECT planned.id, d.day, d.impressions, d.clicks, d.conversions, d.spend, d.currency,
            CAST(:loaded_at AS timestamptz)
        FROM planned CROSS JOIN unnest(
            CAST(:days AS date[]), CAST(:impressions AS bigint[]), CAST(:clicks AS bigint[]),
            CAST(:conversions AS bigint[]), CAST(:spend AS numeric[]), CAST(:currency AS text[])
        ) AS d(day, impressions, clicks, conversions, spend, currency)
        ON CONFLICT (connection_id, day) DO UPDATE SET
            impressions = excluded.impressions, clicks = excluded.clicks,
            conversions = excluded.conversions, spend = excluded.spend,
            currency = excluded.currency, loaded_at = excluded.loaded_at
    ), recorded AS (
        UPDATE connections SET
            last_synced_at = CAST(:synced_at AS timestamptz),
            sync_error = NULL,
            sync_failures = 0,
            next_sync_at = CASE WHEN CAST(:regular AS boolean)
                THEN CAST(:next_sync_at AS timestamptz)
                ELSE COALESCE(next_sync_at, CAST(:next_sync_at AS timestamptz)) END,
            updated_at = CAST(:synced_at AS timestamptz)
        WHERE CAST(:record AS boolean) AND id IN (SELECT id FROM planned)
    )
    SELECT count(*) FROM planned
    """
)

# `planned` of `_SAVE` for SQLite, where a transaction that writes holds the whole database.
_PLANNED = (
    select(Connection.id)
    .where(
        Connection.id == bindparam("connection_id"),
        Connection.account_id == bindparam("account_id"),
    )
    .with_for_update(read=True)
)
_NEXT = bindparam("b_next_sync_at", type_=Connection.next_sync_at.type)


def _record(next_sync_at: ColumnElement[Any]) -> Update:
    return (
        update(Connection)
        .where(
            Connection.id == bindparam("b_connection_id"),
            Connection.account_id == bindparam("b_account_id"),
        )
        .values(
            last_synced_at=bindparam("b_now"),
            sync_error=None,
            sync_failures=0,
            next_sync_at=next_sync_at,
        )
    )


# A regular sync moves the next one an interval ahead. A range someone asked for is extra: it
# does not move the regular sync, unless none is planned.
_RECORD_REGULAR = _record(_NEXT)
_RECORD_EXTRA = _record(func.coalesce(Connection.next_sync_at, _NEXT))


async def save(
    session: AsyncSession,
    plan: Plan,
    piece: DayRange,
    served: Sequence[DailyMetrics],
    loaded_at: datetime,
    *,
    synced_at: datetime | None,
    regular: bool,
) -> tuple[list[date], int] | None:
    """Write what one call returned (past days it did not return are lost) and, with
    `synced_at`, record the sync's success. Returns the days written and how many days were
    newly found lost; None, with nothing written, for a connection deleted or switched to
    another account meanwhile."""
    # One row per day (the last one served wins), within what was asked.
    days = {m.day: m for m in served if piece.start <= m.day <= piece.end}
    found_again = sorted(plan.lost.intersection(days))
    lost = [
        d for d in piece.each() if d not in days and d < plan.settled_before and d not in plan.lost
    ]
    if session.get_bind().dialect.name == "postgresql":
        alone = not found_again and not lost
        options = {"isolation_level": "AUTOCOMMIT"} if alone else {}
        connection = await session.connection(execution_options=options)
        values = _values(plan, list(days.values()), loaded_at, synced_at, regular)
        if not await connection.scalar(_SAVE, values):
            return None
    else:
        if not await (await session.connection()).scalar(
            _PLANNED, {"connection_id": plan.connection_id, "account_id": plan.account_id}
        ):
            return None
        await repository.upsert_days(session, _rows(plan, list(days.values()), loaded_at))
        if synced_at is not None:
            await record(session, plan, synced_at, regular=regular)
    if found_again:
        await repository.forget_lost_days(session, plan.connection_id, found_again)
    await repository.add_lost_days(session, plan.connection_id, lost, "not_served")
    return sorted(days), len(lost)


def _values(
    plan: Plan,
    served: Sequence[DailyMetrics],
    loaded_at: datetime,
    synced_at: datetime | None,
    regular: bool,
) -> dict[str, Any]:
    return {
        "connection_id": plan.connection_id,
        "account_id": plan.account_id,
        "loaded_at": loaded_at,
        "days": [m.day for m in served],
        "impressions": [m.impressions for m in served],
        "clicks": [m.clicks for m in served],
        "conversions": [m.conversions for m in served],
        "spend": [m.spend for m in served],
        "currency": [m.currency or plan.currency for m in served],
        "record": synced_at is not None,
        "synced_at": synced_at or loaded_at,
        "next_sync_at": (synced_at or loaded_at) + plan.interval,
        "regular": regular,
    }


def _rows(plan: Plan, served: Sequence[DailyMetrics], loaded_at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "connection_id": plan.connection_id,
            "day": m.day,
            "impressions": m.impressions,
            "clicks": m.clicks,
            "conversions": m.conversions,
            "spend": m.spend,
            "currency": m.currency or plan.currency,
            "loaded_at": loaded_at,
        }
        for m in served
    ]


async def record(session: AsyncSession, plan: Plan, synced_at: datetime, *, regular: bool) -> bool:
    """Record the connection's successful sync (nothing to load, or on SQLite); False when it
    was deleted or switched meanwhile."""
    recorded = await (await session.connection()).execute(
        _RECORD_REGULAR if regular else _RECORD_EXTRA,
        {
            "b_connection_id": plan.connection_id,
            "b_account_id": plan.account_id,
            "b_now": synced_at,
            "b_next_sync_at": synced_at + plan.interval,
        },
    )
    return bool(recorded.rowcount)


async def mark_synced(session: AsyncSession, synced: Sequence[tuple[Plan, datetime]]) -> None:
    """Record the latest sync of each authorization and account among these connections' syncs:
    the authorizations locked first, in id order (see `kit.locks_repository`), then one UPDATE per
    table."""
    by_authorization: dict[uuid.UUID, datetime] = {}
    by_account: dict[uuid.UUID, datetime] = {}
    for plan, at in synced:
        for latest, owner in (
            (by_authorization, plan.authorization_id),
            (by_account, plan.account_id),
        ):
            latest[owner] = max(at, latest.get(owner, at))
    await lock_in_order(session, Authorization, by_authorization)
    for model, latest in ((Authorization, by_authorization), (Account, by_account)):
        if latest:
            when = case(
                {owner: literal(at, UTCDateTime()) for owner, at in latest.items()},
                value=model.id,
            )
            await session.execute(
                update(model)
                .where(model.id.in_(sorted(latest)))
                .values(last_synced_at=when)
                .execution_options(synchronize_session=False)
            )
