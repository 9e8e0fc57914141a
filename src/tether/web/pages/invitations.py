"""The page an invitation email links to: choose a name and password, and join.

It needs no sign-in: the signed link is the invitee's proof. It shows only what the
invitation names (the organization, who invited, the role) and never another organization's
members: an address that already signs in to Tether is told so here, in its own mailbox's
hands, and nowhere else.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from tether.db import utcnow
from tether.deps import SessionDep, SettingsDep
from tether.errors import Conflict, TetherError
from tether.members import invitations, sessions
from tether.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_login_csrf,
    cookie_is_secure,
    limits,
    new_login_csrf,
)
from tether.web.pages.settings_members import MIN_PASSWORD, ROLE_NAMES, Name
from tether.web.templating import render

router = APIRouter(include_in_schema=False)

HOME = "/connections"
# The link is a credential: the page must not be kept by the browser or a proxy.
_NO_STORE = {"Cache-Control": "no-store"}
_CSRF_PATH = "/invitations"


def _page(
    request: Request,
    context: dict[str, object],
    *,
    secure: bool,
    status_code: int = 200,
) -> Response:
    token = new_login_csrf()
    merged = {"login_csrf": token, "role_names": ROLE_NAMES, "min_password": MIN_PASSWORD}
    response = render(
        request, "invitation.html", merged | context, status_code=status_code, headers=_NO_STORE
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, path=_CSRF_PATH
    )
    return response


def _refused(request: Request, refusal: TetherError) -> Response:
    context = {"refusal": refusal.message}
    return render(
        request, "invitation.html", context, status_code=refusal.status, headers=_NO_STORE
    )


@router.get("/invitations/{token}")
async def invitation_page(
    request: Request, session: SessionDep, settings: SettingsDep, token: str
) -> Response:
    try:
        opened = await invitations.open_link(session, token)
    except TetherError as refusal:
        return _refused(request, refusal)
    context: dict[str, object] = {
        "opened": opened,
        "taken": invitations.taken_message(opened) if opened.taken else None,
        "name": opened.invitation.name,
    }
    return _page(request, context, secure=cookie_is_secure(settings))


@router.post("/invitations/{token}", dependencies=[Depends(check_login_csrf)])
async def accept_invitation(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: str,
    password: Annotated[str, Form(max_length=200)],
    password_again: Annotated[str, Form(max_length=200)],
    name: Name = "",
) -> Response:
    secure = cookie_is_secure(settings)
    try:
        opened = await invitations.open_link(session, token)
    except TetherError as refusal:
        return _refused(request, refusal)
    problem = _password_problem(password, password_again)
    if opened.taken or problem is not None:
        taken = invitations.taken_message(opened) if opened.taken else None
        context: dict[str, object] = {
            "opened": opened, "taken": taken, "name": name, "problem": problem
        }  # fmt: skip
        return _page(request, context, secure=secure, status_code=409 if taken else 422)
    try:
        member = await invitations.accept(session, opened, name=name, password=password)
    except Conflict as taken_meanwhile:
        context = {"opened": opened, "taken": taken_meanwhile.message}
        return _page(request, context, secure=secure, status_code=409)
    now = utcnow()
    session_token = await sessions.open_session(session, member, limits=limits(settings), now=now)
    response = RedirectResponse(HOME, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_token,
        max_age=settings.session_max_days * 86400,
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=_CSRF_PATH)
    return response


def _password_problem(password: str, again: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"Choose a password of at least {MIN_PASSWORD} characters."
    if password != again:
        return "The two passwords are not the same. Type the same password twice."
    return None
