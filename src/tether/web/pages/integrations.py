"""The Integrations screen: one row per account an authorization reaches, and who uses it.

The list is keyset-paged and its counts come from one grouped query over accounts, so the
screen costs the same at 100,000 connections as at 10. A row opens the account's page: the
clients that use it, each with its status, its error and its settings (disconnect, switch
account, reconnect), whose actions are the Connections screen's own routes.
"""

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tether.deps import RegistryDep, SessionDep
from tether.integrations import service
from tether.integrations.service import SORTS
from tether.kit.pagination import parse_sort
from tether.models import Status
from tether.web.auth import PageActor
from tether.web.pages import sources
from tether.web.params import Cursor, Text
from tether.web.responses import changed
from tether.web.templating import render

router = APIRouter(include_in_schema=False)

COLUMNS = (
    ("label", "Label"),
    ("identifier", "Identifier"),
    ("provider", "Provider"),
    ("clients", "Clients using it"),
    ("status", "Status"),
)
STATUSES = (Status.ACTIVE, Status.FAILING, Status.NEEDS_RECONNECT, Status.DISCONNECTED)
PAGE_SIZE = 50
CLIENTS_PAGE_SIZE = 50


@router.get("/integrations")
async def integrations_page(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    provider: Text = None,
    status: Text = None,
    sort: Text = None,
    cursor: Cursor = None,
) -> Response:
    where = service.visible(actor, provider=provider, status=status)
    chosen = parse_sort(sort, SORTS, "label")
    counts = await service.count_integrations(session, where=where)
    page = await service.integrations_page(
        session, where=where, sort=chosen, cursor=cursor, limit=PAGE_SIZE
    )
    context = {
        "columns": COLUMNS,
        "sort": chosen,
        "items": page.items,
        "next_cursor": page.next_cursor,
        "first_page": cursor is None,
        "counts": counts,
        "filters": {"provider": where.provider or "", "status": where.status or ""},
        "statuses": STATUSES,
    }
    return render(request, "integrations/page.html", context)


@router.get("/integrations/{account_id}")
async def integration_page(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    account_id: uuid.UUID,
    cursor: Cursor = None,
) -> Response:
    """One account: where it comes from, and the clients that use it with their settings."""
    integration = await service.get_integration(session, actor=actor, account_id=account_id)
    page = await service.clients_page(
        session, actor=actor, account_id=account_id, cursor=cursor, limit=CLIENTS_PAGE_SIZE
    )
    context = {
        "integration": integration,
        "items": page.items,
        "next_cursor": page.next_cursor,
        "first_page": cursor is None,
        # In use by clients this member cannot see (limited staff only).
        "hidden_use": integration.in_use and integration.clients == 0,
    }
    return render(request, "integrations/clients.html", context)


@router.post("/integrations/authorizations/{authorization_id}/delete")
async def delete_authorization(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    registry: RegistryDep,
    authorization_id: uuid.UUID,
) -> Response:
    """Delete an authorization no client uses; the service refuses (409) while any does."""
    deleted = await sources.delete_authorization(session, actor, registry, authorization_id)
    return changed(request, f"{deleted} is deleted, with its accounts.")
