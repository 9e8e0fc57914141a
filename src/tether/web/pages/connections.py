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

from tether.authorizations import service as authorizations
from tether.clients import service as clients
from tether.connections import manage, service
from tether.connections.service import SORTS
from tether.deps import RegistryDep, SessionDep, SettingsDep
from tether.kit.pagination import parse_sort
from tether.members.actor import Actor
from tether.models import Status
from tether.sync import service as sync
from tether.web.auth import PageActor
from tether.web.oauth import reconnect_popup
from tether.web.params import Cursor, Text
from tether.web.responses import changed
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
    found, _ = await clients.list_clients(session, actor=actor, search=client, limit=20, offset=0)
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
    """Load the connection's missing days now, and say what happened."""
    actor.require_writer("sync connections")
    connection = await service.get_connection(session, actor=actor, connection_id=connection_id)
    name = connection.client_name
    # The sync writes in transactions of its own; end this one first so it holds no lock.
    await session.commit()
    result = await sync.sync_now(
        request.app.state.runtime.health,
        member_id=actor.member_id,
        connection_id=connection_id,
        start=None,
        end=None,
    )
    if result.error:
        return changed(request, f"{name}: {result.error}", error=True)
    days = "day" if result.days_loaded == 1 else "days"
    return changed(request, f"{name}: {result.days_loaded} {days} loaded.")


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
    client: Text = None,
    q: Text = None,
) -> Response:
    """The dialog to connect a client to an account of a connected data source."""
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
    context = {"providers": providers, "provider": chosen, "accounts": accounts,
               "client": client or "", "q": q or ""}  # fmt: skip
    return render(request, "connections/new.html", context)


@router.post("/connections/new")
async def create_connection(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    client: Annotated[str, Form(min_length=1, max_length=200)],
    account_id: Annotated[uuid.UUID, Form()],
) -> Response:
    """Connect a client (a new one when no client has this name) to the chosen account."""
    found = await clients.find_client(session, actor=actor, name=client)
    if found is None:
        found = await clients.create_client(session, actor=actor, name=client.strip())
    connection = await service.connect_client(
        session, actor=actor, client_id=found.id, account_id=account_id
    )
    return changed(request, f"{connection.client_name} is connected to "
                            f"{connection.account_name}; its history is loading.")  # fmt: skip
