"""Where a reconnect link from an email or a notification lands: what lapsed, and the one button
that fixes it.

A forged or expired link is refused before anything else, signed in or not (the refusal tells
nothing about the organization). A genuine link asks the member to sign in, then shows the lapse
as far as they may see it: staff see only their own clients, and a count of the others.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.authorizations.permissions import ReconnectMode, reconnect_mode
from tether.authorizations.service import get_authorization
from tether.config import Settings
from tether.connections import service as connections
from tether.deps import RegistryDep, SessionDep, SettingsDep
from tether.errors import Forbidden, NotFound, TetherError
from tether.kit.pagination import Sort
from tether.models import Authorization, Connection, Status
from tether.notifications import service as notifications
from tether.notifications.links import Target, check_link, open_link
from tether.providers.base import AuthKind
from tether.providers.registry import Registry
from tether.web import auth
from tether.web.auth import PageActor, sign_in_url
from tether.web.oauth import reconnect_popup
from tether.web.templating import render

router = APIRouter(include_in_schema=False)

AFFECTED_SHOWN = 25
ReturnTo = Annotated[str | None, Form(max_length=2000)]


@dataclass(frozen=True, slots=True)
class Landing:
    """What the page shows about a link's target."""

    authorization: Authorization
    connection: Connection | None
    lapse: notifications.OpenLapse | None
    affected: list[Connection]
    affected_total: int
    api_key: bool
    # Why this member cannot reconnect it, or how they would (their own clients only).
    refusal: str | None
    own_clients_only: bool

    @property
    def status(self) -> str:
        holder = self.connection or self.authorization
        return holder.status

    @property
    def message(self) -> str | None:
        if self.lapse is not None:
            return self.lapse.incident.message
        holder = self.connection or self.authorization
        return holder.message


# A refusal (a 410 above all) must not be kept by the browser: the same link may work later, or
# for another member.
_NO_STORE = {"Cache-Control": "no-store"}


def _refused(request: Request, refusal: TetherError) -> Response:
    context = {"refusal": refusal.message, "token": None}
    return render(request, "reconnect.html", context, status_code=refusal.status, headers=_NO_STORE)


@router.get("/reconnect/{token}")
async def reconnect_landing(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    registry: RegistryDep,
    token: str,
) -> Response:
    """Check the link, have the member sign in, then show what lapsed and how to fix it."""
    try:
        check_link(token)
    except TetherError as refusal:
        return _refused(request, refusal)
    actor = await auth.signed_in(request, session, settings)
    if actor is None:
        return RedirectResponse(sign_in_url(request), status_code=303, headers=_NO_STORE)
    try:
        target = open_link(token, actor)
        landing = await _landing(session, actor, registry, target)
    except (Forbidden, NotFound) as refusal:
        return _refused(request, refusal)
    context = {"landing": landing, "token": token}
    return render(request, "reconnect.html", context, headers=_NO_STORE)


async def _landing(
    session: AsyncSession, actor: Actor, registry: Registry, target: Target
) -> Landing:
    if target.authorization_id is None:
        raise NotFound("This link does not name a data source to reconnect.")
    authorization = await get_authorization(
        session, actor=actor, authorization_id=target.authorization_id
    )
    connection = None
    if target.connection_id is not None:
        try:
            connection = await connections.get_connection(
                session, actor=actor, connection_id=target.connection_id
            )
        except NotFound:
            connection = None  # a client this member does not see: counted, not named
    lapse = await notifications.open_lapse(session, actor=actor, target=target)
    affected, total = await _affected(session, actor, authorization, connection, target)
    # Whether this member may reconnect is judged on a connection of theirs, when there is one.
    theirs = connection or (affected[0] if affected else None)
    refusal, own_only = await _permission(session, actor, authorization, theirs)
    return Landing(
        authorization,
        connection,
        lapse,
        affected,
        total,
        registry.info(authorization.provider).auth_kind == AuthKind.API_KEY,
        refusal,
        own_only,
    )


async def _affected(
    session: AsyncSession,
    actor: Actor,
    authorization: Authorization,
    connection: Connection | None,
    target: Target,
) -> tuple[list[Connection], int]:
    """The lapsed connections this member sees under the target (a page of them), and how many."""
    if target.connection_id is not None:
        shown = [connection] if connection and connection.status != Status.ACTIVE else []
        return shown, len(shown)
    where = connections.visible(
        actor, authorization_id=authorization.id, statuses=(Status.NEEDS_RECONNECT,)
    )
    page = await connections.list_connections(
        session, where=where, sort=Sort("client_name"), cursor=None, limit=AFFECTED_SHOWN
    )
    counts = await connections.count_connections(session, where=where)
    return list(page.items), counts["total"]


async def _permission(
    session: AsyncSession, actor: Actor, authorization: Authorization, connection: Connection | None
) -> tuple[str | None, bool]:
    try:
        mode = await reconnect_mode(session, actor, authorization, connection)
    except Forbidden as refused:
        return refused.message, False
    return None, mode == ReconnectMode.OWN_CLIENTS


@router.post("/reconnect/{token}")
async def start_from_link(
    session: SessionDep,
    actor: PageActor,
    registry: RegistryDep,
    settings: SettingsDep,
    token: str,
    return_to: ReturnTo = None,
) -> Response:
    """Start signing in again for the link's target; the page opens it in a pop-up."""
    return await start_reconnect(
        session, actor, registry, settings, open_link(token, actor), return_to
    )


async def start_reconnect(
    session: AsyncSession,
    actor: Actor,
    registry: Registry,
    settings: Settings,
    target: Target,
    return_to: str | None,
) -> Response:
    """The provider's consent URL that ends a lapse, as JSON for the pop-up.

    Staff who see only some of the clients an authorization serves reconnect through one of
    their own lapsed connections: that restores their clients and leaves the others to the
    connector or an admin."""
    connection_id = target.connection_id
    if connection_id is None and actor.client_ids is not None and target.authorization_id:
        where = connections.visible(
            actor, authorization_id=target.authorization_id, statuses=(Status.NEEDS_RECONNECT,)
        )
        mine = await connections.list_connections(
            session, where=where, sort=Sort("client_name"), cursor=None, limit=1
        )
        connection_id = mine.items[0].id if mine.items else None
    return await reconnect_popup(
        session,
        actor,
        registry,
        settings,
        authorization_id=target.authorization_id if connection_id is None else None,
        connection_id=connection_id,
        return_to=return_to,
    )
