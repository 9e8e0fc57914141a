"""The Coverage screen's view of the sync: per connection, a strip of days, each loaded, missing
(during an incident, or being backfilled) or unrecoverable; what a gap is and why it is there;
and a few counts over every connection the member sees.

Only the connections of one page have their days read. The counts come from the connections
table alone, so the screen costs the same at 100,000 connections as at 10.
"""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.config import Settings
from tether.connections import service as connections
from tether.db import utcnow
from tether.errors import BadRequest, Unprocessable
from tether.kit.pagination import Page, Sort
from tether.models import Connection, Incident, LostDay, MetricDay, Status
from tether.sync import repository
from tether.sync.coverage import MAX_WINDOW_DAYS
from tether.sync.days import DayRange, history_window, today

# The windows the screen offers, in days (today included).
WINDOWS = (30, 90)
_BY_CLIENT = Sort("client_name")
# Access is back: the days the incident left empty are loaded by the next sync.
_ACCESS_BACK = frozenset({"recovered", "reconnected"})
_SYNCED = (Status.ACTIVE, Status.FAILING)


class DayState(StrEnum):
    LOADED = "loaded"
    MISSING = "missing"
    INCIDENT = "incident"  # missing, while an incident of the connection or its provider lasted
    BACKFILLING = "backfilling"  # missing, and the sync is about to load it
    UNRECOVERABLE = "unrecoverable"  # the provider no longer serves it
    PENDING = "pending"  # today, not loaded yet: providers report a day as it goes


GAPS = frozenset({DayState.MISSING, DayState.INCIDENT, DayState.BACKFILLING,
                  DayState.UNRECOVERABLE})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    state: DayState


@dataclass(frozen=True, slots=True)
class Run:
    """Days in a row in one state: one mark on a strip, and, for a gap, one button whose
    dialog tells of the whole run."""

    state: DayState
    days: DayRange


@dataclass(frozen=True, slots=True)
class Strip:
    connection: Connection
    days: list[Day]

    @property
    def runs(self) -> list[Run]:
        """The strip as the page draws it: 90 days of one state are one mark, not 90."""
        runs: list[Run] = []
        for d in self.days:
            if runs and runs[-1].state == d.state:
                runs[-1] = Run(d.state, DayRange(runs[-1].days.start, d.day))
            else:
                runs.append(Run(d.state, DayRange(d.day, d.day)))
        return runs

    def count(self, *states: DayState) -> int:
        return sum(d.state in states for d in self.days)

    @property
    def loaded(self) -> int:
        return self.count(DayState.LOADED)

    @property
    def missing(self) -> int:
        return self.count(DayState.MISSING, DayState.INCIDENT, DayState.BACKFILLING)

    @property
    def unrecoverable(self) -> int:
        return self.count(DayState.UNRECOVERABLE)

    @property
    def expected(self) -> int:
        """Days that could be loaded by now (today counts once it is)."""
        return len(self.days) - self.count(DayState.PENDING)


@dataclass(frozen=True, slots=True)
class Summary:
    lapsed_accounts: int
    # Switched-on connections last loaded before yesterday began, and the days they miss.
    with_gaps: int
    days_missing: int


@dataclass(frozen=True, slots=True)
class Gap:
    """What a member sees on clicking a day of a strip."""

    connection: Connection
    day: date
    state: DayState
    # The run of days around `day` in the same kind of state (missing or unrecoverable).
    range: DayRange | None
    incidents: list[Incident]
    # Days before this one are older than the history the sync keeps.
    kept_from: date
    backfilling: bool


def window_of(days: int, now: datetime) -> DayRange:
    if days not in WINDOWS:
        raise BadRequest(
            f"Show the last {' or '.join(str(w) for w in WINDOWS)} days.", code="invalid_window"
        )
    last = today(now)
    return DayRange(last - timedelta(days=days - 1), last)


async def strip_page(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    days: int,
    provider: str | None,
    client_id: uuid.UUID | None,
    statuses: tuple[str, ...],
    cursor: str | None,
    limit: int,
) -> Page[Strip]:
    """One page of the connections the actor sees, by client name, each with its strip."""
    now = utcnow()
    window = window_of(days, now)
    where = connections.visible(actor, statuses=statuses, provider=provider, client_id=client_id)
    page = await connections.list_connections(
        session, where=where, sort=_BY_CLIENT, cursor=cursor, limit=limit
    )
    strips = await _strips(session, settings, page.items, window, now)
    return Page(strips, page.next_cursor)


async def summary(
    session: AsyncSession,
    *,
    actor: Actor,
    days: int,
    provider: str | None,
    client_id: uuid.UUID | None,
    unloaded: Collection[str] = (),
) -> Summary:
    """Counts over every connection the actor sees (with these filters), from count queries.
    Connections of `unloaded` providers (no daily loads in Tether) are never behind."""
    window = window_of(days, utcnow())
    where = connections.visible(actor, provider=provider, client_id=client_id)
    lapsed = await repository.lapsed_account_count(session, where)
    # Today is still going: the days that could be loaded by now end yesterday.
    loaded = replace(where, excluded_providers=frozenset(unloaded))
    behind, missing = await repository.behind_counts(session, loaded, window.each()[:-1])
    return Summary(lapsed, behind, missing)


async def explain_gap(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    connection_id: uuid.UUID,
    day: date,
) -> Gap:
    """The gap a day belongs to, and why: the incidents that covered it, whether the sync is
    loading it, or whether the provider no longer serves it."""
    connection = await connections.get_connection(session, actor=actor, connection_id=connection_id)
    now = utcnow()
    last = today(now)
    window = DayRange(last - timedelta(days=MAX_WINDOW_DAYS - 1), last)
    if not window.start <= day <= window.end:
        raise Unprocessable(
            f"Pick a day of the last {MAX_WINDOW_DAYS} days, today included.", code="invalid_day"
        )
    (strip,) = await _strips(session, settings, [connection], window, now)
    states = {d.day: d.state for d in strip.days}
    state = states[day]
    found = _run(states, day)
    incidents: list[Incident] = []
    if found is not None and state != DayState.UNRECOVERABLE:
        incidents = list(
            await repository.incidents_over(
                session, [connection], _began(found.start), _began(found.end + timedelta(days=1))
            )
        )
    kept_from = history_window(now, settings.sync_history_days).start
    backfilling = state == DayState.BACKFILLING or (
        found is not None and states[found.end] == DayState.BACKFILLING
    )
    return Gap(connection, day, state, found, incidents, kept_from, backfilling)


def _run(states: dict[date, DayState], day: date) -> DayRange | None:
    """The consecutive days around `day` that are missing (in any way) or unrecoverable, as
    `day` is; None for a day loaded, or today not loaded yet."""
    if states[day] not in GAPS:
        return None
    lost = states[day] == DayState.UNRECOVERABLE

    def same(d: date) -> bool:
        s = states.get(d)
        return s is not None and s in GAPS and (s == DayState.UNRECOVERABLE) == lost

    start = end = day
    while same(start - timedelta(days=1)):
        start -= timedelta(days=1)
    while same(end + timedelta(days=1)):
        end += timedelta(days=1)
    return DayRange(start, end)


async def _strips(
    session: AsyncSession,
    settings: Settings,
    page: Sequence[Connection],
    window: DayRange,
    now: datetime,
) -> list[Strip]:
    ids = [c.id for c in page]
    loaded = await repository.days_of(session, MetricDay, ids, window.start, window.end)
    lost = await repository.days_of(session, LostDay, ids, window.start, window.end)
    incidents = await repository.incidents_over(session, page, _began(window.start))
    kept_from = history_window(now, settings.sync_history_days).start
    strips = []
    for c in page:
        mine = [i for i in incidents if _touches(i, c)]
        states = classify(
            window,
            loaded[c.id],
            lost[c.id],
            spans=[(i.opened_at.date(), (i.closed_at or now).date()) for i in mine],
            backfilling=_backfilling(c, mine, now, settings),
            kept_from=kept_from,
            last=today(now),
        )
        strips.append(Strip(c, states))
    return strips


def classify(
    window: DayRange,
    loaded: set[date],
    lost: set[date],
    *,
    spans: Sequence[tuple[date, date]],
    backfilling: bool,
    kept_from: date,
    last: date,
) -> list[Day]:
    """Each day of the window in its state. A missing day the next sync will load is being
    backfilled when that sync is under way or due; otherwise it is missing, during an incident
    or not."""
    states: list[DayState] = []
    for d in window.each():
        if d in loaded:
            state = DayState.LOADED
        elif d in lost:
            state = DayState.UNRECOVERABLE
        elif d >= last:
            state = DayState.PENDING
        elif backfilling and d >= kept_from:
            state = DayState.BACKFILLING
        elif any(start <= d <= end for start, end in spans):
            state = DayState.INCIDENT
        else:
            state = DayState.MISSING
        states.append(state)
    return [Day(d, s) for d, s in zip(window.each(), states, strict=True)]


def _touches(incident: Incident, c: Connection) -> bool:
    if incident.connection_id is not None:
        return incident.connection_id == c.id
    if incident.authorization_id is not None:
        return incident.authorization_id == c.authorization_id
    return incident.provider == c.provider  # a provider's outage is every connection's


def _backfilling(
    c: Connection, incidents: Sequence[Incident], now: datetime, settings: Settings
) -> bool:
    """Whether the sync is loading this connection's missing days now: it is switched on and
    reachable, and either due (or taken by a worker), or access came back after its last load."""
    if c.status not in _SYNCED:
        return False
    taken = now + timedelta(seconds=settings.dispatch_timeout_seconds)
    if c.next_sync_at is None or c.next_sync_at <= taken:
        return True
    return any(
        i.closed_how in _ACCESS_BACK
        and i.closed_at is not None
        and (c.last_synced_at is None or i.closed_at > c.last_synced_at)
        for i in incidents
    )


def _began(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
