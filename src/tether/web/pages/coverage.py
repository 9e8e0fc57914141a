"""The Coverage screen: how many accounts lapsed, then per connection a strip of the last 30 or
90 days (loaded, missing, missing during an incident, being backfilled, unrecoverable); a click
on a gap says why it is there and offers what fixes it.

Only the page's 50 connections have their days read; the counts come from count queries on the
connections table, so the screen costs the same at 100,000 connections as at 10.
"""

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from tether.db import utcnow
from tether.deps import RegistryDep, SessionDep, SettingsDep
from tether.errors import BadRequest
from tether.models import Status
from tether.sync import strips
from tether.sync.days import DayRange
from tether.sync.strips import DayState
from tether.web.auth import PageActor
from tether.web.pages import incidents
from tether.web.pages.connections import client_filter
from tether.web.params import Cursor, Text
from tether.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
WINDOWS = tuple((days, f"Last {days} days") for days in strips.WINDOWS)
STATUSES = (Status.NEEDS_RECONNECT, Status.FAILING, Status.ACTIVE, Status.DISCONNECTED)
# How each day reads, on the strip and in the legend.
DAY_LABELS = {
    DayState.LOADED: "loaded",
    DayState.MISSING: "missing",
    DayState.INCIDENT: "missing during an incident",
    DayState.BACKFILLING: "being backfilled",
    DayState.UNRECOVERABLE: "unrecoverable",
    DayState.PENDING: "today, not loaded yet",
}
LEGEND = (
    (DayState.LOADED, "Loaded"),
    (DayState.MISSING, "Missing"),
    (DayState.INCIDENT, "Missing during an incident"),
    (DayState.BACKFILLING, "Being backfilled"),
    (DayState.UNRECOVERABLE, "Unrecoverable (the provider no longer serves it)"),
    (DayState.PENDING, "Today, until it loads"),
)
# How an incident of a gap ended: as on the Incidents screen, or by turning into a lapse.
CLOSED_HOW = {**incidents.CLOSED_HOW, "lapsed": "became a lapse"}


def day_label(day: date) -> str:
    """A day as members read it: `12 Nov 2026`."""
    return day.strftime("%-d %b %Y")


def range_label(days: DayRange) -> str:
    """`12 Nov 2026`, `12 Nov - 16 Nov 2026` or `28 Dec 2026 - 3 Jan 2027`, with an en dash."""
    if days.start == days.end:
        return day_label(days.start)
    same_year = days.start.year == days.end.year
    first = days.start.strftime("%-d %b") if same_year else day_label(days.start)
    return f"{first} \N{EN DASH} {day_label(days.end)}"


@router.get("/coverage")
async def coverage_page(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    settings: SettingsDep,
    registry: RegistryDep,
    days: Annotated[int, Query()] = strips.WINDOWS[0],
    provider: Text = None,
    client: Text = None,
    status: Text = None,
    cursor: Cursor = None,
) -> Response:
    provider, status = provider or None, status or None
    if status is not None and status not in STATUSES:
        raise BadRequest(
            f"Unknown status {status!r}: use one of {', '.join(STATUSES)}.", code="invalid_status"
        )
    client_id, unknown_client = await client_filter(session, actor, client)
    window = strips.window_of(days, utcnow())
    summary = None
    page = None
    # Watched but never loaded (a custom provider without a report): no strip, no gap.
    unloaded = {key for key, d in registry.definitions.items() if d.reports is None}
    if not unknown_client:
        summary = await strips.summary(
            session,
            actor=actor,
            days=days,
            provider=provider,
            client_id=client_id,
            unloaded=unloaded,
        )
        page = await strips.strip_page(
            session,
            actor=actor,
            settings=settings,
            days=days,
            provider=provider,
            client_id=client_id,
            statuses=(status,) if status else (),
            cursor=cursor,
            limit=PAGE_SIZE,
        )
    items = page.items if page else []
    context = {
        "days": days,
        "windows": WINDOWS,
        "window": window,
        "summary": summary,
        "items": items,
        "next_cursor": page.next_cursor if page else None,
        "first_page": cursor is None,
        "filters": {"provider": provider or "", "client": client or "", "status": status or ""},
        "unknown_client": unknown_client,
        "statuses": STATUSES,
        "day_labels": DAY_LABELS,
        "legend": LEGEND,
        "gaps": strips.GAPS,
        "day_label": day_label,
        "range_label": range_label,
        "unloaded": unloaded,
        # While days are being loaded, the page looks again every few seconds: a person who
        # just reconnected watches the red days turn green.
        "backfilling": any(s.count(DayState.BACKFILLING) for s in items),
    }
    return render(request, "coverage/page.html", context)


@router.get("/coverage/gaps/{connection_id}")
async def gap_dialog(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    settings: SettingsDep,
    connection_id: uuid.UUID,
    day: Annotated[date, Query()],
) -> Response:
    """Why a day of a connection's strip is not loaded, and what would load it."""
    gap = await strips.explain_gap(
        session, actor=actor, settings=settings, connection_id=connection_id, day=day
    )
    context = {
        "gap": gap,
        "c": gap.connection,
        "day_labels": DAY_LABELS,
        "day_label": day_label,
        "range_label": range_label,
        "history_days": settings.sync_history_days,
        "kinds": incidents.KINDS,
        "closed_how": CLOSED_HOW,
        "states": DayState,
    }
    return render(request, "coverage/gap.html", context)
