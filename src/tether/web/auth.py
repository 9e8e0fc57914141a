"""Who is signed in to the web app, and the CSRF check on everything they send.

The session cookie is HttpOnly and SameSite=Lax; each form (and each HTMX request, through a
header) must also carry a CSRF token derived from the session, which another site cannot read.
The sign-in form, which has no session yet, uses a double-submit cookie instead.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.config import Settings
from tether.db import utcnow
from tether.deps import SessionDep, SettingsDep
from tether.errors import TetherError
from tether.members import sessions

SESSION_COOKIE = "tether_session"
LOGIN_CSRF_COOKIE = "tether_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
BACKGROUND_HEADER = "X-Tether-Background"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(TetherError):
    """No session, or one that ended: the page sends the member to sign in."""

    code = "not_authenticated"
    status = 401


class CsrfRefused(TetherError):
    code = "csrf_failed"
    status = 403


def limits(settings: Settings) -> sessions.Limits:
    return sessions.Limits(
        idle=timedelta(hours=settings.session_idle_hours),
        longest=timedelta(days=settings.session_max_days),
        failures_per_email=settings.login_failures_per_email,
        failures_per_address=settings.login_failures_per_address,
        window=timedelta(seconds=settings.login_failure_window_seconds),
        first_delay=timedelta(seconds=settings.login_delay_seconds),
        longest_delay=timedelta(seconds=settings.login_delay_max_seconds),
    )


def csrf_for(session_token: str) -> str:
    """The CSRF token of a session: public in its pages, useless without the cookie."""
    return hashlib.sha256(f"tether-csrf:{session_token}".encode()).hexdigest()


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def cookie_is_secure(settings: Settings) -> bool:
    return settings.resolved_public_url.startswith("https://")


async def _sent_csrf(request: Request) -> str:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent or ""


async def check_login_csrf(request: Request) -> None:
    """Double submit: the sign-in form's token must match the cookie set with the form."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, await _sent_csrf(request)):
        raise CsrfRefused("This form has expired. Reload the page and sign in again.")


async def signed_in(request: Request, session: AsyncSession, settings: Settings) -> Actor | None:
    """The signed-in member, or None; for pages that also serve visitors (a reconnect link).

    A request marked as background (the bell's polling sends `X-Tether-Background`) does not
    keep the session alive: a tab left open still signs out after the idle time."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    touch = request.headers.get(BACKGROUND_HEADER) is None
    actor = await sessions.resolve(
        session, token, limits=limits(settings), now=utcnow(), touch=touch
    )
    if actor is not None:
        request.state.actor = actor
        request.state.csrf = csrf_for(token)
    return actor


async def _page_actor(request: Request, session: SessionDep, settings: SettingsDep) -> Actor:
    return await _checked_page_actor(request, session, settings)


async def _page_actor_apart(request: Request, settings: SettingsDep) -> Actor:
    async with request.app.state.sessionmaker.begin() as session:
        return await _checked_page_actor(request, session, settings)


async def _checked_page_actor(request: Request, session: AsyncSession, settings: Settings) -> Actor:
    actor = await signed_in(request, session, settings)
    if actor is None:
        raise SignInRequired("Sign in to continue.")
    csrf: str = request.state.csrf
    if request.method not in _SAFE_METHODS and not hmac.compare_digest(
        csrf, await _sent_csrf(request)
    ):
        raise CsrfRefused(
            "Tether refused this request because it did not come from one of its own pages. "
            "Reload the page and try again."
        )
    return actor


# The signed-in member of a page or a page action; actions are CSRF-checked too.
PageActor = Annotated[Actor, Depends(_page_actor)]
# The same, found in a transaction of its own, committed before the action runs: for actions
# that wait on a provider or an endpoint, holding no transaction meanwhile (see `SessionsDep`).
PageActorApart = Annotated[Actor, Depends(_page_actor_apart)]


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target, safe='')}"
