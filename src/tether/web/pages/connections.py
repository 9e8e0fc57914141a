"""The Connections screen: every connection the member may see, by status tab, sorted, paged.

Counts come from the API's count query and rows from its keyset pages, so the screen costs the
same at 100,000 connections as at 10. Row actions answer HTMX requests with a flash message and
a `tether:changed` event, on which the list reloads itself.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.authorizations import service as authorizations
from tether.clients import service as clients
from tether.connections import manage, service
from tether.connections.service import SORTS
from tether.deps import RegistryDep, SessionDep, SettingsDep
from tether.errors import Conflict, NotFound, Unprocessable
from tether.kit.inputs import VISIBLE_TEXT
from tether.kit.pagination import parse_sort
from tether.models import Client, Status, SyncRequest
from tether.sync import requests as sync_requests
from tether.web.auth import PageActor
from tether.web.oauth import reconnect_popup
from tether.web.params import Cursor, Text
from tether.web.responses import CHANGED, changed
from tether.web.templating import render

router = APIRouter(include_in_schema=False)

TABS = (
    ("needs_reconnect", "Needs reconnecting", (Status.NEEDS_RECONNECT,)),
    ("failing", "Failing", (Status.FAILING,)),
    ("active", "Active", (Status.ACTIVE,)),
    ("all", "All", ()),
)
COLUMNS = (
    ("client_name", "Client"),
    ("provider", "Provider"),
    ("account_name", "Account"),
    ("account_external_id", "ID"),
    ("status", "Status"),
    ("last_synced_at", "Last updated"),
)
PAGE_SIZE = 50
# Clients the Connect dialog lists at a time, and the choice of a new client in its list.
CLIENTS_SHOWN = 50
NEW_CLIENT = "new"


async def client_filter(
    session: AsyncSession, actor: Actor, name: str | None
) -> tuple[uuid.UUID | None, bool]:
    """The client a list is filtered by, from the name typed: its id, and whether no client the
    member may see has that name."""
    if not name:
        return None, False
    found = await clients.find_client(session, actor=actor, name=name)
    return (found.id, False) if found else (None, True)


@router.get("/connections")
async def connections_page(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    tab: Text = None,
    provider: Text = None,
    client: Text = None,
    sort: Text = None,
    cursor: Cursor = None,
) -> Response:
    provider = provider or None
    client_id, unknown_client = await client_filter(session, actor, client)
    # A client name that matches no client shows nothing: no need to count the organization.
    counts = (
        dict.fromkeys([*Status, "total"], 0)
        if unknown_client
        else await service.count_connections(
            session, where=service.visible(actor, provider=provider, client_id=client_id)
        )
    )
    if tab not in {key for key, _, _ in TABS}:
        tab = "needs_reconnect" if counts["needs_reconnect"] else "all"
    statuses = next(statuses for key, _, statuses in TABS if key == tab)
    chosen = parse_sort(sort, SORTS, "client_name")
    items: list[object] = []
    next_cursor = None
    if not unknown_client:
        page = await service.list_connections(
            session,
            where=service.visible(
                actor, statuses=tuple(statuses), provider=provider, client_id=client_id
            ),
            sort=chosen,
            cursor=cursor,
            limit=PAGE_SIZE,
        )
        items, next_cursor = list(page.items), page.next_cursor
    tab_counts = {
        "needs_reconnect": counts["needs_reconnect"],
        "failing": counts["failing"],
        "active": counts["active"],
        "all": counts["total"],
    }
    context = {
        "tabs": TABS,
        "tab": tab,
        "tab_counts": tab_counts,
        "columns": COLUMNS,
        "sort": chosen,
        "items": items,
        "next_cursor": next_cursor,
        "first_page": cursor is None,
        "filters": {"provider": provider or "", "client": client or ""},
        "unknown_client": unknown_client,
        # A newcomer's first visit: nothing to list, nothing filtered away.
        "nothing_yet": counts["total"] == 0 and not provider and client_id is None,
    }
    return render(request, "connections/page.html", context)


@router.get("/clients/options")
async def client_options(
    request: Request, session: SessionDep, actor: PageActor, client: Text = None
) -> Response:
    """Suggestions for the client filter, by name."""
    found = await clients.suggest_clients(session, actor=actor, search=client, limit=20)
    return render(request, "connections/client_options.html", {"clients": found})


@router.post("/connections/{connection_id}/reconnect")
async def reconnect(
    session: SessionDep,
    actor: PageActor,
    registry: RegistryDep,
    settings: SettingsDep,
    connection_id: uuid.UUID,
    return_to: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """Start signing in again; the page opens the provider's sign-in in a pop-up."""
    return await reconnect_popup(
        session, actor, registry, settings, connection_id=connection_id, return_to=return_to
    )


@router.post("/connections/{connection_id}/disconnect")
async def disconnect(
    request: Request, session: SessionDep, actor: PageActor, connection_id: uuid.UUID
) -> Response:
    connection = await manage.disconnect(session, actor=actor, connection_id=connection_id)
    return changed(request, f"{connection.client_name} is disconnected from "
                            f"{connection.account_name}.")  # fmt: skip


@router.post("/connections/{connection_id}/connect")
async def connect_again(
    request: Request, session: SessionDep, actor: PageActor, connection_id: uuid.UUID
) -> Response:
    connection = await manage.connect_again(session, actor=actor, connection_id=connection_id)
    return changed(request, f"{connection.client_name} is connected to "
                            f"{connection.account_name} again.")  # fmt: skip


@router.post("/connections/{connection_id}/sync")
async def sync_now(
    request: Request, session: SessionDep, actor: PageActor, connection_id: uuid.UUID
) -> Response:
    """Queue a load of the connection's missing days, and follow it in the flash: a worker
    loads them in the background, and the page shows them once they are in."""
    queued, connection = await sync_requests.request_sync(
        session, actor=actor, connection_id=connection_id
    )
    return _following(request, queued, connection.client_name, oob=True)


@router.get("/syncs/{sync_id}/progress")
async def sync_progress(
    request: Request, session: SessionDep, actor: PageActor, sync_id: uuid.UUID
) -> Response:
    """How a queued sync stands: still the following flash, or what it came to (and every
    region reloads, since days came in). The flash it replaces is the target, not a swap out
    of band: the last answer must leave a flash area behind."""
    try:
        followed, connection = await sync_requests.get_request(
            session, actor=actor, request_id=sync_id
        )
    except NotFound:
        return _told(request, "That sync is gone: its connection was deleted.", error=True)
    name = connection.client_name
    status = sync_requests.status_of(followed)
    if status == sync_requests.RequestStatus.ABANDONED:
        return _told(request, f"{name}: the sync could not run. {followed.last_error}",
                     error=True)  # fmt: skip
    if status != sync_requests.RequestStatus.FINISHED:
        return _following(request, followed, name, oob=False)
    if followed.error:
        return _told(request, f"{name}: {followed.error}", error=True)
    days = "day" if followed.days_loaded == 1 else "days"
    return _told(request, f"{name}: {followed.days_loaded:,} {days} loaded.")


def _told(request: Request, message: str, *, error: bool = False) -> Response:
    context = {"message": message, "error": error, "oob": False}
    return render(request, "partials/flash.html", context, headers=CHANGED)


def _following(request: Request, queued: SyncRequest, name: str, *, oob: bool) -> Response:
    running = sync_requests.status_of(queued) == sync_requests.RequestStatus.RUNNING
    message = f"{name}: {'loading' if running else 'queued to load'} its missing days…"
    context = {"sync_id": queued.id, "message": message, "oob": oob}
    return render(request, "partials/sync_progress.html", context)


@router.get("/connections/{connection_id}/switch")
async def switch_dialog(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    connection_id: uuid.UUID,
    q: Text = None,
) -> Response:
    """The dialog to move a connection to another account of the same provider."""
    connection = await service.get_connection(session, actor=actor, connection_id=connection_id)
    accounts = await authorizations.accounts_of_provider(
        session, actor=actor, provider=connection.provider, search=q, limit=100
    )
    context = {"connection": connection, "accounts": accounts, "q": q or ""}
    return render(request, "connections/switch.html", context)


@router.post("/connections/{connection_id}/switch")
async def switch_account(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    connection_id: uuid.UUID,
    account_id: Annotated[uuid.UUID, Form()],
) -> Response:
    connection = await manage.switch_account(
        session, actor=actor, connection_id=connection_id, account_id=account_id
    )
    return changed(request, f"{connection.client_name} now uses {connection.account_name} "
                            f"({connection.account_external_id}).")  # fmt: skip


@router.get("/connections/new")
async def new_connection_dialog(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    provider: Text = None,
    q: Text = None,
    client: Text = None,
    client_id: Text = None,
    client_q: Text = None,
    new_client: Text = None,
) -> Response:
    """The dialog to connect a client to an account of a connected data source. It opens with
    the client named by `client` (or `client_id`) chosen, and keeps the client chosen when it
    is drawn again for another data source or account search."""
    actor.require_writer("connect clients")
    providers = await authorizations.providers_in_use(session, actor=actor)
    chosen = provider if provider in providers else (providers[0] if providers else None)
    accounts = (
        await authorizations.accounts_of_provider(
            session, actor=actor, provider=chosen, search=q, limit=100
        )
        if chosen
        else []
    )
    if not client_id and client:
        found = await clients.find_client(session, actor=actor, name=client)
        client_id = str(found.id) if found else None
    picker = await _client_picker(
        session, actor, chosen=client_id or "", search=client_q or "", new_name=new_client or ""
    )
    context = {"providers": providers, "provider": chosen, "accounts": accounts, "q": q or "",
               # The control that asked for the dialog again keeps the focus.
               "redrawn_by": request.headers.get("HX-Trigger-Name"), **picker}  # fmt: skip
    return render(request, "connections/new.html", context)


@router.get("/connections/new/clients")
async def new_connection_clients(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    client_id: Text = None,
    client_q: Text = None,
    new_client: Text = None,
) -> Response:
    """The dialog's client list again, for what was typed in its search box."""
    actor.require_writer("connect clients")
    picker = await _client_picker(
        session, actor, chosen=client_id or "", search=client_q or "", new_name=new_client or ""
    )
    return render(request, "connections/client_picker.html", picker)


async def _client_picker(
    session: AsyncSession, actor: Actor, *, chosen: str, search: str, new_name: str
) -> dict[str, object]:
    """What the dialog's client list shows: the first clients by name (matching the search),
    the chosen one among them even when it lies further on, and whether more exist."""
    search = search.strip()
    found, total = await clients.list_clients(
        session, actor=actor, search=search or None, limit=CLIENTS_SHOWN, offset=0
    )
    options = list(found)
    chosen_id = _as_id(chosen)
    if chosen_id is not None and all(c.id != chosen_id for c in options):
        picked = await _visible_client(session, actor, chosen_id)
        if picked is not None and search.casefold() in picked.name.casefold():
            options.insert(0, picked)
    if chosen_id not in {c.id for c in options}:
        chosen_id = None
    if chosen_id is None and search:
        # A search that names one client exactly chooses it.
        chosen_id = next((c.id for c in options if c.name.casefold() == search.casefold()), None)
    may_add = clients.may_add_clients(actor)
    return {
        "clients": options,
        "chosen": NEW_CLIENT if chosen == NEW_CLIENT and may_add else str(chosen_id or ""),
        "more": max(total - len(options), 0),
        "client_q": search,
        "searchable": bool(search) or total > CLIENTS_SHOWN,
        "new_client": new_name,
        "may_add": may_add,
    }


async def _visible_client(
    session: AsyncSession, actor: Actor, client_id: uuid.UUID
) -> Client | None:
    try:
        return await clients.get_client(session, actor=actor, client_id=client_id)
    except NotFound:
        return None


def _as_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@router.post("/connections/new")
async def create_connection(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    account_id: Annotated[uuid.UUID, Form()],
    client_id: Annotated[str, Form(max_length=100)] = "",
    new_client: Annotated[str, Form(max_length=200), VISIBLE_TEXT] = "",
    client_q: Annotated[str, Form(max_length=200)] = "",
    client: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Connect the chosen client to the chosen account; a new client only when "New client…"
    was chosen."""
    actor.require_writer("connect clients")
    if client_id == NEW_CLIENT:
        found = await _add_client(session, actor, new_client)
    else:
        found = await _existing_client(session, actor, client_id, typed=client_q or client)
    connection = await service.connect_client(
        session, actor=actor, client_id=found.id, account_id=account_id
    )
    return changed(request, f"{connection.client_name} is connected to "
                            f"{connection.account_name}; its history is loading.")  # fmt: skip


async def _existing_client(
    session: AsyncSession, actor: Actor, client_id: str, *, typed: str
) -> Client:
    """The client picked from the list, by id. Without one, a name typed in the search box
    that is exactly a client's name (the list may not have caught up with the typing yet);
    any other name is refused, as it would only be a new client if the member said so."""
    pick = "Pick one from the list" + (
        ", or choose New client." if clients.may_add_clients(actor) else "."
    )
    if client_id:
        chosen_id = _as_id(client_id)
        if chosen_id is None:
            raise Unprocessable(f"That is not a client. {pick}", code="unknown_client")
        return await clients.get_client(session, actor=actor, client_id=chosen_id)
    name = typed.strip()
    if not name:
        raise Unprocessable(f"Which client? {pick}", code="client_missing")
    found = await clients.find_client(session, actor=actor, name=name)
    if found is None:
        raise Unprocessable(f"No client is called “{name}”. {pick}", code="unknown_client")
    return found


async def _add_client(session: AsyncSession, actor: Actor, name: str) -> Client:
    """A new client of this name; one that differs from a client's only in letter case is
    refused, as it is almost surely that client."""
    clients.require_may_add_clients(actor)
    name = name.strip()
    if not name:
        raise Unprocessable("Type the new client's name.", code="client_name_missing")
    same = await clients.find_client_any_case(session, actor=actor, name=name)
    if same is not None:
        raise Conflict(f"A client called “{same.name}” already exists: pick it from the list "
                       "instead of New client.", code="client_exists")  # fmt: skip
    return await clients.create_client(session, actor=actor, name=name)
