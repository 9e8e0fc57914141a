"""What members read of the sync: a connection's metric days, and which days each connection
has, lacks (and whether an incident explains it) or can never have."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.config import Settings
from tether.connections import service as connections
from tether.db import utcnow
from tether.errors import Unprocessable
from tether.kit.pagination import Page, Sort
from tether.models import Connection, Incident, LostDay, MetricDay
from tether.sync import repository
from tether.sync.days import DayRange, history_window, runs, today

# The widest window one coverage or metrics request may look at.
MAX_WINDOW_DAYS = 400
_BY_CLIENT = Sort("client_name")


@dataclass(frozen=True, slots=True)
class Gap:
    range: DayRange
    in_incident: bool


@dataclass(frozen=True, slots=True)
class Coverage:
    connection: Connection
    window: DayRange
    days_loaded: int
    missing: list[Gap]
    unrecoverable: list[DayRange]


def window_of(
    start: date | None, end: date | None, settings: Settings, now: datetime | None = None
) -> DayRange:
    """The window asked for; by default the history the sync keeps loaded."""
    default = history_window(now or utcnow(), settings.sync_history_days)
    last = end or default.end
    first = start or last - timedelta(days=default.days - 1)
    if last < first:
        raise Unprocessable("The end date is before the start date.", code="invalid_range")
    if (last - first).days + 1 > MAX_WINDOW_DAYS:
        raise Unprocessable(
            f"A window may span at most {MAX_WINDOW_DAYS} days; ask for a shorter one.",
            code="invalid_range",
        )
    return DayRange(first, last)


async def list_metrics(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    connection_id: uuid.UUID,
    start: date | None,
    end: date | None,
) -> Sequence[MetricDay]:
    """One connection's loaded days in the window, oldest first."""
    connection = await connections.get_connection(session, actor=actor, connection_id=connection_id)
    window = window_of(start, end, settings)
    return await repository.metric_days(session, connection.id, window.start, window.end)


async def coverage_page(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    start: date | None,
    end: date | None,
    client_id: uuid.UUID | None,
    provider: str | None,
    connection_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Page[Coverage]:
    """The coverage of every connection the actor sees (one page of them, by client name)."""
    now = utcnow()
    window = window_of(start, end, settings, now)
    if connection_id is not None:
        one = await connections.get_connection(session, actor=actor, connection_id=connection_id)
        page = Page([one], None)
    else:
        where = connections.visible(actor, provider=provider, client_id=client_id)
        page = await connections.list_connections(
            session, where=where, sort=_BY_CLIENT, cursor=cursor, limit=limit
        )
    ids = [c.id for c in page.items]
    loaded = await repository.days_of(session, MetricDay, ids, window.start, window.end)
    lost = await repository.days_of(session, LostDay, ids, window.start, window.end)
    since = datetime.combine(window.start, time(), tzinfo=UTC)
    incidents = await repository.incidents_touching(session, page.items, since)
    return Page(
        [
            summarize(c, window, loaded[c.id], lost[c.id], _spans(c, incidents, now), today(now))
            for c in page.items
        ],
        page.next_cursor,
    )


def _spans(c: Connection, incidents: Sequence[Incident], now: datetime) -> list[tuple[date, date]]:
    """The days each incident of this connection, or of its whole authorization, lasted."""
    return [
        (i.opened_at.date(), (i.closed_at or now).date())
        for i in incidents
        if i.connection_id == c.id
        or (i.connection_id is None and i.authorization_id == c.authorization_id)
    ]


def summarize(
    connection: Connection,
    window: DayRange,
    loaded: set[date],
    lost: set[date],
    incidents: Sequence[tuple[date, date]],
    last: date,
) -> Coverage:
    """Loaded, missing (days not yet come are not missing) and unrecoverable days."""
    days = [d for d in window.each() if d <= last]
    missing = runs(d for d in days if d not in loaded and d not in lost)
    return Coverage(
        connection,
        window,
        sum(d in loaded for d in days),
        [Gap(r, any(r.overlaps(s, e) for s, e in incidents)) for r in missing],
        runs(d for d in days if d in lost),
    )
