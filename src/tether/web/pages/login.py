"""Sign in and sign out of the web app."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from tether.db import utcnow
from tether.deps import SessionDep, SettingsDep
from tether.kit.redirects import local_path_or
from tether.members import sessions
from tether.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    PageActor,
    check_login_csrf,
    cookie_is_secure,
    limits,
    new_login_csrf,
)
from tether.web.templating import render

router = APIRouter(include_in_schema=False)

HOME = "/connections"


def _safe_next(target: str | None) -> str:
    """Only a path inside Tether: signing in must never send a member to another site."""
    return local_path_or(target, HOME)


def _login_page(
    request: Request,
    *,
    next_path: str,
    email: str = "",
    refusal: str | None = None,
    retry_after: int | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    secure: bool = False,
) -> Response:
    token = new_login_csrf()
    context = {
        "login_csrf": token,
        "next": next_path,
        "email": email,
        "refusal": refusal,
        "retry_after": retry_after,
    }
    response = render(request, "login.html", context, status_code=status_code, headers=headers)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/login"
    )
    return response


@router.get("/")
async def home(request: Request) -> Response:
    target = HOME if request.cookies.get(SESSION_COOKIE) else "/login"
    return RedirectResponse(target, status_code=303)


@router.get("/login")
async def login_form(request: Request, settings: SettingsDep, next: str | None = None) -> Response:
    return _login_page(request, next_path=_safe_next(next), secure=cookie_is_secure(settings))


@router.post("/login", dependencies=[Depends(check_login_csrf)])
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    address = request.client.host if request.client else "unknown"
    outcome = await sessions.sign_in(
        session,
        email=email,
        password=password,
        address=address,
        limits=limits(settings),
        now=utcnow(),
    )
    secure = cookie_is_secure(settings)
    if outcome.token is None:
        # Slowed down: the password was not checked, and the answer says when to come back.
        status = 429 if outcome.slowed else 401
        headers = {"Retry-After": str(outcome.retry_after)} if outcome.slowed else None
        return _login_page(
            request,
            next_path=_safe_next(next),
            email=email,
            refusal=outcome.refusal,
            retry_after=outcome.retry_after,
            status_code=status,
            headers=headers,
            secure=secure,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        outcome.token,
        max_age=settings.session_max_days * 86400,
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep, actor: PageActor) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await sessions.sign_out(session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
