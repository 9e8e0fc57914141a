"""The Data sources screen: the provider catalog, connecting a provider, and its settings.

A card per provider of the catalog, with counts from one grouped query. A connected provider's
*Connection settings* dialog lists its authorizations (a handful per provider) and a page of each
one's accounts (an authorization can reach thousands). Actions answer like the Connections
screen's: a flash message and a `tether:changed` event, on which the cards and the open dialog
reload themselves; OAuth sign-ins run in a pop-up that fires the same event when it closes.
"""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.authorizations import connect as adding
from tether.authorizations import manage, oauth, service
from tether.authorizations.permissions import reconnect_mode, refusal
from tether.authorizations.service import AccountRow, AuthorizationRow, ProviderSummary, Usage
from tether.deps import RegistryDep, SessionDep, SettingsDep
from tether.errors import Forbidden, Unprocessable
from tether.kit.pagination import Sort
from tether.kit.redirects import check_return_to
from tether.kit.words import plural
from tether.models import Authorization, Role, Status
from tether.providers.base import AuthKind
from tether.providers.catalog import ProviderInfo
from tether.providers.guide import guide
from tether.providers.registry import Registry
from tether.web.auth import PageActor
from tether.web.oauth import oauth_lifetime, reconnect_popup
from tether.web.params import Cursor, Position
from tether.web.responses import changed, oauth_popup
from tether.web.templating import render

router = APIRouter(include_in_schema=False)

ACCOUNTS_PAGE = 20
AUTHORIZATIONS_PAGE = 10
# The settings dialog's filter: which authorizations it lists.
SHOW = {"all": None, "needs_reconnect": Status.NEEDS_RECONNECT, "failing": Status.FAILING}
LAPSED = (Status.NEEDS_RECONNECT, Status.FAILING)
ProviderKey = Annotated[str, Path(max_length=40)]
ReturnTo = Annotated[str | None, Form(max_length=2000)]
ApiKey = Annotated[str, Form(max_length=2000)]


@dataclass(frozen=True, slots=True)
class Card:
    info: ProviderInfo
    available: bool
    summary: ProviderSummary | None
    # A provider Tether knows how to reach, once its app credentials are set.
    needs_setup: bool
    daily_loads: bool
    # The sandbox answers in this platform's place (the demo): say so on the card.
    stand_in: bool


@dataclass(frozen=True, slots=True)
class Accounts:
    """One page of an authorization's accounts, and where it sits among all of them."""

    authorization_id: uuid.UUID
    items: list[AccountRow]
    next_cursor: str | None
    start: int
    total: int

    @property
    def end(self) -> int:
        return self.start + len(self.items) - 1


@dataclass(frozen=True, slots=True)
class AuthorizationView:
    row: AuthorizationRow
    accounts: Accounts
    usage: Usage
    # Why this member may not reconnect it (e.g. staff who do not see every client it serves).
    reconnect_refused: str | None
    # Why this member may not delete it or make it main (the same rule as reconnecting).
    act_refused: str | None

    @property
    def authorization(self) -> Authorization:
        return self.row.authorization


@router.get("/sources")
async def sources_page(
    request: Request, session: SessionDep, actor: PageActor, registry: RegistryDep
) -> Response:
    summaries = await service.provider_summaries(session, actor=actor)
    cards = [
        Card(
            info,
            registry.available(info.key),
            summaries.get(info.key),
            not registry.available(info.key) and registry.definition(info.key) is not None,
            registry.reports_of(info.key) is not None,
            info.key in registry.stand_ins,
        )
        for info in registry.catalog()
    ]
    context = {"cards": cards, "can_act": actor.role != Role.VIEWER}
    return render(request, "sources/page.html", context)


@router.get("/sources/{provider}/setup")
async def setup_dialog(
    request: Request,
    _: PageActor,
    registry: RegistryDep,
    settings: SettingsDep,
    provider: ProviderKey,
) -> Response:
    """How to make a provider available here: what to register, where, and what to set."""
    found = guide(registry, provider, settings.oauth_redirect_uri)
    return render(request, "sources/setup.html", {"guide": found})


@router.post("/sources/{provider}/connect")
async def connect(
    session: SessionDep,
    actor: PageActor,
    registry: RegistryDep,
    settings: SettingsDep,
    provider: ProviderKey,
    return_to: ReturnTo = None,
) -> Response:
    """Start signing in at an OAuth provider; the page opens its consent in a pop-up."""
    check_return_to(return_to)
    started = await oauth.start(
        session,
        actor=actor,
        registry=registry,
        provider=provider,
        redirect_uri=settings.oauth_redirect_uri,
        lifetime=oauth_lifetime(settings),
        return_to=return_to,
    )
    return oauth_popup(started)


@router.get("/sources/{provider}/api-key")
async def api_key_dialog(
    request: Request, actor: PageActor, registry: RegistryDep, provider: ProviderKey
) -> Response:
    """The dialog to connect an API-key provider."""
    actor.require_writer("connect data sources")
    info = registry.info(provider)
    if info.auth_kind != AuthKind.API_KEY:
        raise Unprocessable(
            f"{info.name} is connected by signing in, not with an API key.",
            code="wrong_auth_kind",
        )
    registry.adapter(provider)
    return render(request, "sources/api_key.html", {"info": info})


@router.post("/sources/{provider}/api-key")
async def connect_api_key(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    registry: RegistryDep,
    provider: ProviderKey,
    api_key: ApiKey = "",
) -> Response:
    added = await adding.connect_api_key(
        session, actor=actor, registry=registry, provider=provider, api_key=api_key
    )
    a = added.authorization
    row = await service.authorization_row(session, actor=actor, authorization_id=a.id)
    found = f"{plural(row.account_count, 'account')} found."
    return changed(request, f"{added.message(registry.info(provider).name)} {found}")


@router.get("/sources/{provider}/settings")
async def settings_dialog(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    registry: RegistryDep,
    provider: ProviderKey,
    show: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Cursor = None,
) -> Response:
    """The provider's authorizations, a page at a time (only the lapsed ones, at first, when
    there are any), each with its status, facts, actions and first accounts."""
    info = registry.info(provider)
    summary = await service.provider_summary(session, actor=actor, provider=provider)
    if show not in SHOW:
        show = "needs_reconnect" if summary.needs_reconnect else "all"
    page = await service.list_authorizations_page(
        session, actor=actor, provider=provider, status=SHOW[show], cursor=cursor,
        limit=AUTHORIZATIONS_PAGE,
    )  # fmt: skip
    ids = [row.authorization.id for row in page.items]
    clients = await service.clients_using(session, actor=actor, authorization_ids=ids)
    views = [
        AuthorizationView(
            row,
            await _accounts(session, actor, row, cursor=None, start=1),
            clients.get(row.authorization.id, Usage()),
            await _reconnect_refused(session, actor, row.authorization),
            await refusal(session, actor, row.authorization, "change it"),
        )
        for row in page.items
    ]
    context = {
        "info": info,
        "available": registry.available(provider),
        "summary": summary,
        "show": show,
        "show_counts": {
            "all": summary.authorizations,
            "needs_reconnect": summary.needs_reconnect,
            "failing": summary.failing,
        },
        "views": views,
        "next_cursor": page.next_cursor,
        "first_page": cursor is None,
        "can_act": actor.role != Role.VIEWER,
        "lapsed": LAPSED,
    }
    return render(request, "sources/settings.html", context)


async def _accounts(
    session: AsyncSession, actor: Actor, row: AuthorizationRow, *, cursor: str | None, start: int
) -> Accounts:
    page = await service.list_accounts(
        session,
        actor=actor,
        authorization_id=row.authorization.id,
        sort=Sort("name"),
        cursor=cursor,
        limit=ACCOUNTS_PAGE,
    )
    return Accounts(row.authorization.id, page.items, page.next_cursor, start, row.account_count)


async def _reconnect_refused(session: AsyncSession, actor: Actor, a: Authorization) -> str | None:
    if a.status not in LAPSED or actor.role == Role.VIEWER:
        return None
    try:
        await reconnect_mode(session, actor, a)
    except Forbidden as refused:
        return refused.message
    return None


@router.get("/sources/authorizations/{authorization_id}/accounts")
async def accounts_page(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    authorization_id: uuid.UUID,
    cursor: Cursor = None,
    start: Position = 1,
) -> Response:
    """Another page of an authorization's accounts, inside its settings."""
    row = await service.authorization_row(session, actor=actor, authorization_id=authorization_id)
    accounts = await _accounts(session, actor, row, cursor=cursor, start=start)
    name = row.authorization.external_user_name
    return render(request, "sources/accounts.html", {"accounts": accounts, "name": name})


@router.post("/sources/authorizations/{authorization_id}/reconnect")
async def reconnect(
    session: SessionDep,
    actor: PageActor,
    registry: RegistryDep,
    settings: SettingsDep,
    authorization_id: uuid.UUID,
    return_to: ReturnTo = None,
) -> Response:
    """Sign in again; the new grant replaces this authorization's for every client it serves."""
    return await reconnect_popup(
        session, actor, registry, settings, authorization_id=authorization_id, return_to=return_to
    )


@router.get("/sources/authorizations/{authorization_id}/api-key")
async def api_key_form(
    request: Request, session: SessionDep, actor: PageActor, authorization_id: uuid.UUID
) -> Response:
    """The small form to enter an API-key authorization's key again."""
    actor.require_writer("reconnect data sources")
    a = await service.get_authorization(session, actor=actor, authorization_id=authorization_id)
    return render(request, "sources/api_key_form.html", {"a": a})


@router.post("/sources/authorizations/{authorization_id}/api-key")
async def reverify_api_key(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    registry: RegistryDep,
    authorization_id: uuid.UUID,
    api_key: ApiKey = "",
) -> Response:
    if not api_key.strip():
        raise Unprocessable("Enter the API key.", code="invalid_api_key")
    done = await manage.reverify_api_key(
        session, actor=actor, registry=registry, authorization_id=authorization_id, api_key=api_key
    )
    message = (f"{registry.info(done.authorization.provider).name} is reconnected: "
               f"{plural(done.restored, 'connection')} restored.")  # fmt: skip
    if done.unreachable:
        message += f" Still out of reach: {', '.join(done.unreachable)}."
    return changed(request, message)


@router.post("/sources/authorizations/{authorization_id}/promote")
async def promote(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    registry: RegistryDep,
    authorization_id: uuid.UUID,
) -> Response:
    a = await manage.promote(session, actor=actor, authorization_id=authorization_id)
    provider = registry.info(a.provider).name
    return changed(request, f"{a.external_user_name} is now the main authorization for "
                            f"{provider}: new connections use it.")  # fmt: skip


@router.delete("/sources/authorizations/{authorization_id}")
async def delete(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    registry: RegistryDep,
    authorization_id: uuid.UUID,
) -> Response:
    deleted = await delete_authorization(session, actor, registry, authorization_id)
    return changed(request, f"{deleted} is deleted.")


async def delete_authorization(
    session: AsyncSession, actor: Actor, registry: Registry, authorization_id: uuid.UUID
) -> str:
    """Delete an authorization (refused while a client uses it); what it was, as members read
    it: `The Sandbox Ads authorization of Alice Martin`."""
    a = await service.get_authorization(session, actor=actor, authorization_id=authorization_id)
    named = f"The {registry.info(a.provider).name} authorization of {a.external_user_name}"
    await manage.delete(session, actor=actor, registry=registry, authorization_id=authorization_id)
    return named
