"""Notifications: the bell in the header, its panel, the full list, and the settings.

The bell is polled by every page, so it costs one COUNT query. Its panel and the list read the
member's own notifications a page at a time, newest first; the clients named are only those the
member may see. Marking read answers like the other screens' actions: a flash message and a
`tether:changed` event, on which the bell, the panel and the list reload themselves.
"""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.deps import RegistryDep, SessionDep, SettingsDep
from tether.errors import Unprocessable
from tether.models import Channel, Event, Role
from tether.notifications import service
from tether.notifications.service import NotificationRow
from tether.providers.base import AuthKind
from tether.providers.catalog import BY_KEY
from tether.web.auth import PageActor
from tether.web.errors import is_htmx
from tether.web.params import Cursor
from tether.web.reconnect import start_reconnect
from tether.web.responses import changed
from tether.web.templating import render

router = APIRouter(include_in_schema=False)

PANEL_SIZE = 8
PAGE_SIZE = 50
ReturnTo = Annotated[str | None, Form(max_length=2000)]

EVENTS = {
    Event.AUTHORIZATION_LAPSED: "A data source needs reconnecting",
    Event.CONNECTION_LAPSED: "A client's connection needs reconnecting",
    Event.AUTHORIZATION_EXPIRING: "A data source will expire soon",
    Event.AUTHORIZATION_RESTORED: "A data source works again",
    Event.CONNECTION_RESTORED: "A client's connection works again",
    Event.PROVIDER_OUTAGE: "A provider has an outage",
    Event.PROVIDER_OUTAGE_ENDED: "A provider outage is over",
}
# How each event reads at a glance: a lapse is red, a warning amber, news of recovery green.
KINDS: dict[str, str] = {
    Event.AUTHORIZATION_LAPSED: "lapse",
    Event.CONNECTION_LAPSED: "lapse",
    Event.AUTHORIZATION_EXPIRING: "warning",
    Event.PROVIDER_OUTAGE: "warning",
    Event.AUTHORIZATION_RESTORED: "recovery",
    Event.CONNECTION_RESTORED: "recovery",
    Event.PROVIDER_OUTAGE_ENDED: "recovery",
}
CHANNELS = {Channel.IN_APP: "in the app", Channel.EMAIL: "by email"}
CHOICES = {"default": None, "on": True, "off": False}


@dataclass(frozen=True, slots=True)
class Item:
    """One notification as a member reads it."""

    row: NotificationRow
    # How the lapse it tells of is fixed: "oauth" (a pop-up), "api_key" (in Data sources), or None.
    fix: str | None

    @property
    def id(self) -> uuid.UUID:
        return self.row.notification.id

    @property
    def unread(self) -> bool:
        return self.row.notification.read_at is None

    @property
    def kind(self) -> str:
        """What the notification's colour says: "lapse", "warning" or "recovery"."""
        return KINDS.get(self.row.notification.event, "lapse")


def _items(rows: list[NotificationRow], actor: Actor) -> list[Item]:
    def fix(row: NotificationRow) -> str | None:
        if row.reconnect_url is None or actor.role == Role.VIEWER:
            return None
        info = BY_KEY.get(row.notification.provider)
        return "api_key" if info and info.auth_kind == AuthKind.API_KEY else "oauth"

    return [Item(row, fix(row)) for row in rows]


@router.get("/notifications/bell")
async def bell(request: Request, session: SessionDep, actor: PageActor) -> Response:
    """The header's bell: a red dot while anything is unread."""
    unread = await service.unread_count(session, actor=actor)
    return render(request, "notifications/bell.html", {"unread": unread})


@router.get("/notifications/panel")
async def panel(
    request: Request, session: SessionDep, actor: PageActor, settings: SettingsDep
) -> Response:
    """The bell's panel: the latest notifications, with a way back from each lapse."""
    page = await service.list_notifications(
        session,
        actor=actor,
        public_url=settings.resolved_public_url,
        unread_only=False,
        cursor=None,
        limit=PANEL_SIZE,
    )
    unread = await service.unread_count(session, actor=actor)
    context = {"items": _items(page.items, actor), "unread": unread, "more": page.next_cursor}
    return render(request, "notifications/panel.html", context)


@router.get("/notifications")
async def notifications_page(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    settings: SettingsDep,
    show: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Cursor = None,
) -> Response:
    """Every notification of the member, newest first, a page at a time."""
    unread_only = show == "unread"
    page = await service.list_notifications(
        session,
        actor=actor,
        public_url=settings.resolved_public_url,
        unread_only=unread_only,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    context = {
        "items": _items(page.items, actor),
        "next_cursor": page.next_cursor,
        "first_page": cursor is None,
        "unread_only": unread_only,
        "unread": await service.unread_count(session, actor=actor),
    }
    return render(request, "notifications/page.html", context)


@router.post("/notifications/read")
async def mark_all_read(request: Request, session: SessionDep, actor: PageActor) -> Response:
    marked = await service.mark_read(session, actor=actor)
    if not marked:
        return changed(request, "Nothing was unread.")
    return changed(request, f"{marked:,} {'notification' if marked == 1 else 'notifications'} "
                            "marked as read.")  # fmt: skip


@router.post("/notifications/{notification_id}/read")
async def mark_read(
    request: Request, session: SessionDep, actor: PageActor, notification_id: uuid.UUID
) -> Response:
    await service.mark_read(session, actor=actor, notification_id=notification_id)
    return changed(request, "Marked as read.")


@router.post("/notifications/{notification_id}/reconnect")
async def reconnect(
    session: SessionDep,
    actor: PageActor,
    registry: RegistryDep,
    settings: SettingsDep,
    notification_id: uuid.UUID,
    return_to: ReturnTo = None,
) -> Response:
    """Sign in again for what the notification's lapse needs; the page opens it in a pop-up."""
    target = await service.reconnect_target_of(
        session, actor=actor, notification_id=notification_id
    )
    return await start_reconnect(session, actor, registry, settings, target, return_to)


@dataclass(frozen=True, slots=True)
class Cell:
    """One event and channel of the settings: the member's choice, or the default."""

    event: Event
    channel: Channel
    choice: str  # "default", "on" or "off"
    default: str
    applies: bool

    @property
    def name(self) -> str:
        return f"{self.event.value}:{self.channel.value}"

    @property
    def label(self) -> str:
        return f"{EVENTS[self.event]}, {CHANNELS[self.channel]}"


async def _cells(session: AsyncSession, actor: Actor) -> list[list[Cell]]:
    rows = await service.preferences(session, actor=actor)
    by_event: dict[Event, list[Cell]] = {}
    for event, channel, enabled, default in rows:
        choice = "default" if enabled is None else ("on" if enabled else "off")
        # Viewers never get in-app notifications: nothing for them to choose there.
        applies = not (channel == Channel.IN_APP and actor.role == Role.VIEWER)
        by_event.setdefault(event, []).append(Cell(event, channel, choice, default, applies))
    return list(by_event.values())


def _settings_page(request: Request, cells: list[list[Cell]], saved: bool) -> Response:
    context = {"rows": cells, "events": EVENTS, "channels": CHANNELS, "saved": saved}
    return render(request, "notifications/settings.html", context)


@router.get("/notifications/settings")
async def settings_page(request: Request, session: SessionDep, actor: PageActor) -> Response:
    """Opt in or out of each event, per channel."""
    return _settings_page(request, await _cells(session, actor), saved=False)


@router.post("/notifications/settings")
async def save_settings(request: Request, session: SessionDep, actor: PageActor) -> Response:
    form = await request.form()
    for row in await _cells(session, actor):
        for cell in row:
            sent = form.get(cell.name)
            if sent is None or not cell.applies:
                continue
            if not isinstance(sent, str) or sent not in CHOICES:
                raise Unprocessable(
                    f"Choose Default, On or Off for “{cell.label}”.", code="invalid_preference"
                )
            if sent == cell.choice:
                continue
            enabled = CHOICES[sent]
            if enabled is None:
                await service.clear_preference(
                    session, actor=actor, event=cell.event, channel=cell.channel
                )
            else:
                await service.set_preference(
                    session, actor=actor, event=cell.event, channel=cell.channel, enabled=enabled
                )
    if is_htmx(request):
        return changed(request, "Your notification settings are saved.")
    return _settings_page(request, await _cells(session, actor), saved=True)
