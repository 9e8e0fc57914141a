"""Settings, Members: who belongs to the organization, their role, and which clients staff see.

An organization has few members, so they are listed whole; it may have thousands of clients, so
the client access form searches them and shows a limited number at a time, the chosen ones first.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.clients import service as clients
from tether.db import utcnow
from tether.deps import SessionDep
from tether.errors import Unprocessable
from tether.kit.inputs import VISIBLE_TEXT
from tether.members import invitations, service, sessions
from tether.models import Member, Role
from tether.web.auth import SESSION_COOKIE, PageActor
from tether.web.params import Text
from tether.web.responses import changed
from tether.web.templating import render

router = APIRouter(include_in_schema=False)

DOING = "see or change Settings"
ROLES = (
    (Role.ADMIN, "Admin", "Everything, Settings included."),
    (Role.STAFF, "Staff", "Connects and reconnects the clients they are given."),
    (Role.VIEWER, "Viewer", "Sees every client and changes nothing."),
)
ROLE_NAMES = {role.value: name for role, name, _ in ROLES}
# Client names shown per member in the list, and clients offered per search in the form.
NAMES_SHOWN = 3
CHOICES_SHOWN = 50
MIN_PASSWORD = 10
_EMAIL = TypeAdapter(EmailStr)

Access = Annotated[Literal["all", "chosen"], Form()]
ClientIds = Annotated[list[uuid.UUID] | None, Form(alias="client_id")]
Password = Annotated[str, Form(max_length=200)]
Name = Annotated[str, Form(max_length=200), VISIBLE_TEXT]


@dataclass(frozen=True, slots=True)
class MemberRow:
    member: Member
    # None: every client; else how many clients, and the names of the first few.
    client_count: int | None
    client_names: list[str]


@router.get("/settings/members")
async def members_page(request: Request, session: SessionDep, actor: PageActor) -> Response:
    actor.require_admin(DOING)
    members = await service.list_member_rows(session, actor=actor)
    access = await service.client_access_summary(
        session, actor=actor, members=members, first=NAMES_SHOWN
    )
    rows = [
        MemberRow(member, None, []) if member.all_clients else MemberRow(member, *access[member.id])
        for member in members
    ]
    context = {
        "section": "members",
        "rows": rows,
        "role_names": ROLE_NAMES,
        "invitations": await invitations.list_invitations(session, actor=actor),
        "now": utcnow(),
    }
    return render(request, "settings/members.html", context)


@router.get("/settings/members/new")
async def new_member_dialog(request: Request, session: SessionDep, actor: PageActor) -> Response:
    actor.require_admin(DOING)
    return await _member_dialog(request, session, actor, member=None, chosen=[])


@router.get("/settings/members/clients")
async def client_choices(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    q: Text = None,
    client_id: Annotated[list[uuid.UUID] | None, Query()] = None,
) -> Response:
    """The client checkboxes of the member form: those ticked, then those matching the search."""
    actor.require_admin(DOING)
    context = await _choices(session, actor, chosen=client_id or [], search=q)
    return render(request, "settings/client_choices.html", context)


@router.post("/settings/invitations")
async def invite_member(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[Role, Form()],
    access: Access = "all",
    client_ids: ClientIds = None,
    name: Name = "",
) -> Response:
    invitation = await invitations.invite(
        session,
        actor=actor,
        email=_checked_email(email),
        name=name,
        role=role,
        client_ids=_chosen(role, access, client_ids or []),
    )
    described = _describe(role, access, client_ids or [])
    return changed(
        request,
        f"An invitation is on its way to {invitation.email}, as {described}. "
        "They join when they open its link and choose a password.",
    )


@router.post("/settings/invitations/{invitation_id}/resend")
async def resend_invitation(
    request: Request, session: SessionDep, actor: PageActor, invitation_id: uuid.UUID
) -> Response:
    invitation = await invitations.resend(session, actor=actor, invitation_id=invitation_id)
    return changed(
        request,
        f"The invitation is sent again to {invitation.email}; earlier links no longer work.",
    )


@router.post("/settings/invitations/{invitation_id}/cancel")
async def cancel_invitation(
    request: Request, session: SessionDep, actor: PageActor, invitation_id: uuid.UUID
) -> Response:
    invitation = await invitations.cancel(session, actor=actor, invitation_id=invitation_id)
    return changed(request, f"The invitation of {invitation.email} is cancelled.")


@router.get("/settings/members/{member_id}/edit")
async def edit_member_dialog(
    request: Request, session: SessionDep, actor: PageActor, member_id: uuid.UUID
) -> Response:
    actor.require_admin(DOING)
    member = await service.get_member(session, actor=actor, member_id=member_id)
    chosen = await service.client_access_of(session, member) or []
    return await _member_dialog(request, session, actor, member=member, chosen=chosen)


@router.post("/settings/members/{member_id}")
async def change_member(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    member_id: uuid.UUID,
    role: Annotated[Role, Form()],
    access: Access = "all",
    client_ids: ClientIds = None,
    name: Name = "",
    password: Password = "",
) -> Response:
    actor.require_admin("change members")
    chosen = _chosen(role, access, client_ids or [])
    member = await service.update_member(
        session,
        actor=actor,
        member_id=member_id,
        name=name.strip() or None,
        role=role,
        all_clients=chosen is None,
        client_ids=chosen,
        password=_checked_password(password) or None,
        # An admin changing their own password stays signed in here, and only here.
        keep_session=sessions.digest(request.cookies.get(SESSION_COOKIE, "")),
    )
    if member.id == actor.member_id and member.role != Role.ADMIN:
        # They just gave up Settings: send them where they can still go.
        return HTMLResponse("", headers={"HX-Redirect": "/connections"})
    described = _describe(member.role, access, client_ids or [])
    return changed(request, f"{member.name} is now {described}.")


@router.post("/settings/members/{member_id}/remove")
async def remove_member(
    request: Request, session: SessionDep, actor: PageActor, member_id: uuid.UUID
) -> Response:
    actor.require_admin("remove members")
    member = await service.get_member(session, actor=actor, member_id=member_id)
    label = f"{member.name} ({member.email})"
    await service.remove_member(session, actor=actor, member_id=member_id)
    if member_id == actor.member_id:
        return HTMLResponse("", headers={"HX-Redirect": "/login"})
    return changed(request, f"{label} is no longer a member and can no longer sign in.")


@router.get("/settings/members/{member_id}/tokens")
async def member_tokens(
    request: Request, session: SessionDep, actor: PageActor, member_id: uuid.UUID
) -> Response:
    """A member's API tokens: name, start, created, last used, expiry; each can be revoked."""
    actor.require_admin(DOING)
    member = await service.get_member(session, actor=actor, member_id=member_id)
    tokens = await service.list_member_tokens(session, actor=actor, member_id=member.id)
    context = {"member": member, "tokens": tokens, "now": utcnow()}
    return render(request, "settings/member_tokens.html", context)


@router.post("/settings/members/{member_id}/tokens/{token_id}/revoke")
async def revoke_member_token(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    member_id: uuid.UUID,
    token_id: uuid.UUID,
) -> Response:
    actor.require_admin("revoke other members' API tokens")
    member = await service.get_member(session, actor=actor, member_id=member_id)
    token = await service.revoke_token(session, actor=actor, member_id=member_id, token_id=token_id)
    return changed(
        request,
        f"The API token “{token.name}” ({token.prefix}…) of {member.name} is revoked: "
        "it no longer works.",
    )


async def _member_dialog(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    *,
    member: Member | None,
    chosen: Sequence[uuid.UUID],
) -> Response:
    context = {
        "member": member,
        "roles": ROLES,
        "limited": member is not None and not member.all_clients,
        **await _choices(session, actor, chosen=chosen, search=None),
    }
    return render(request, "settings/member_form.html", context)


async def _choices(
    session: AsyncSession, actor: Actor, *, chosen: Sequence[uuid.UUID], search: str | None
) -> dict[str, object]:
    picked = await service.client_names(session, actor=actor, client_ids=chosen)
    found, total = await clients.list_clients(
        session, actor=actor, search=search or None, limit=CHOICES_SHOWN, offset=0
    )
    picked_ids = {client_id for client_id, _ in picked}
    others = [(c.id, c.name) for c in found if c.id not in picked_ids]
    return {
        "picked": picked,
        "others": others,
        "more": max(total - len(found), 0),
        "q": search or "",
    }


def _chosen(role: Role, access: str, client_ids: list[uuid.UUID]) -> list[uuid.UUID] | None:
    """The client list a staff member is limited to; None for every client."""
    if role != Role.STAFF or access == "all":
        return None
    if not client_ids:
        raise Unprocessable(
            "Choose at least one client, or give this member access to all clients.",
            code="no_clients",
        )
    return client_ids


def _describe(role: str, access: str, client_ids: list[uuid.UUID]) -> str:
    if role != Role.STAFF or access == "all":
        return f"{ROLE_NAMES[role].lower()} with access to all clients"
    count = len(set(client_ids))
    return f"staff with access to {count} client{'' if count == 1 else 's'}"


def _checked_email(email: str) -> str:
    try:
        return str(_EMAIL.validate_python(email.strip()))
    except ValidationError:
        raise Unprocessable(
            f"“{email}” is not an email address. Enter one like name@agency.com.",
            code="invalid_email",
        ) from None


def _checked_password(password: str) -> str:
    if password and len(password) < MIN_PASSWORD:
        raise Unprocessable(
            f"A password needs at least {MIN_PASSWORD} characters.", code="weak_password"
        )
    return password
