"""Settings, Sandbox: make a connection lapse on purpose, and watch Tether notice it.

The sandbox (Sandbox Ads, Tether's local ad platform) has a control API for its switches:
revoke a user's grants, expire their tokens, change their password, take an account away,
take the platform down or throttle it. This page calls it over HTTP, where the sandbox
provider's adapter finds the sandbox, and then offers *Check now*: the same health check as
`POST /api/v1/authorizations/{id}/check`, so the lapse shows at once.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tether import vault
from tether.actor import Actor
from tether.authorizations import service as authorizations
from tether.authorizations.service import AccountRow, AuthorizationRow
from tether.db import utcnow
from tether.deps import SessionDep, SessionsDep
from tether.errors import Conflict, TetherError, Unprocessable
from tether.health import service as health
from tether.kit.pagination import Sort
from tether.models import Authorization
from tether.providers.catalog import name_of
from tether.web.auth import PageActor, PageActorApart
from tether.web.params import Cursor
from tether.web.responses import CHANGED
from tether.web.templating import STATUS_LABELS, render

router = APIRouter(include_in_schema=False)

DOING = "see or change Settings"
PROVIDER = "sandbox"
AUTHORIZATIONS_SHOWN = 10
ACCOUNTS_SHOWN = 20
GRANTS_SHOWN = 5
THROTTLE_SECONDS = 60
TIMEOUT_SECONDS = 10.0


class SandboxUnavailable(TetherError):
    """The sandbox did not answer, or failed."""

    code = "sandbox_unavailable"
    status = 502


class SandboxRefused(TetherError):
    """The sandbox answered that it cannot do this."""

    code = "sandbox_refused"
    status = 409


@dataclass(frozen=True, slots=True)
class Control:
    """The sandbox's control API, called over HTTP like any client of it calls it."""

    http: httpx.AsyncClient
    base_url: str

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}/control{path}"
        try:
            response = await self.http.request(method, url, timeout=TIMEOUT_SECONDS, **kwargs)
        except httpx.HTTPError as error:
            raise SandboxUnavailable(
                f"Tether could not reach the sandbox at {self.base_url} "
                f"({type(error).__name__}). Is it running?"
            ) from None
        if response.status_code >= 500:
            raise SandboxUnavailable(
                f"The sandbox at {self.base_url} failed (HTTP {response.status_code})."
            )
        if response.status_code >= 400:
            raise SandboxRefused(f"The sandbox refused: {_error_message(response)}")
        return response.json()


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}."


def control_of(request: Request) -> Control | None:
    """The sandbox of this Tether: mounted at /sandbox, or at its own URL; None without one."""
    settings = request.app.state.settings
    if not settings.sandbox_runs:
        return None
    return Control(request.app.state.runtime.http, settings.resolved_sandbox_url)


def sandbox_providers(request: Request) -> tuple[str, ...]:
    """Sandbox Ads, and the platforms the sandbox stands in for (signed in to, like it)."""
    registry = request.app.state.registry
    return (PROVIDER, *sorted(k for k in registry.stand_ins if k in registry.oauth))


def _require_control(request: Request) -> Control:
    control = control_of(request)
    if control is None:
        raise Conflict("This Tether runs without the sandbox.", code="no_sandbox")
    return control


@dataclass(frozen=True, slots=True)
class Card:
    """One sandbox authorization of the organization, and what the sandbox says of its user."""

    row: AuthorizationRow
    user: dict[str, Any] | None
    grants: list[dict[str, Any]]
    live_grants: int
    accounts: list[tuple[AccountRow, bool]]
    more_accounts: bool

    @property
    def authorization(self) -> Authorization:
        return self.row.authorization


@router.get("/settings/sandbox")
async def sandbox_page(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    cursor: Cursor = None,
) -> Response:
    actor.require_admin(DOING)
    control = control_of(request)
    context: dict[str, Any] = {
        "section": "sandbox",
        "control": control,
        "problem": None,
        "cards": [],
        "faults": None,
        "next_cursor": None,
        "first_page": cursor is None,
        "throttle_seconds": THROTTLE_SECONDS,
        "stand_ins": [name_of(key) for key in sandbox_providers(request)[1:]],
    }
    if control is not None:
        page = await authorizations.list_authorizations_page(
            session, actor=actor, provider=sandbox_providers(request), status=None, cursor=cursor,
            limit=AUTHORIZATIONS_SHOWN,
        )  # fmt: skip
        context["next_cursor"] = page.next_cursor
        try:
            context["faults"] = (await control.call("GET", "/faults"))["global"]
            context["cards"] = [await _card(session, actor, control, row) for row in page.items]
        except (SandboxUnavailable, SandboxRefused) as error:
            context["problem"] = error.message
    return render(request, "settings/sandbox.html", context)


async def _card(
    session: AsyncSession, actor: Actor, control: Control, row: AuthorizationRow
) -> Card:
    user = await _sandbox_user(control, row.authorization)
    grants: list[dict[str, Any]] = []
    if user is not None:
        grants = await control.call("GET", "/grants", params={"username": user["username"]})
    accounts = await authorizations.list_accounts(
        session, actor=actor, authorization_id=row.authorization.id, sort=Sort("name"),
        cursor=None, limit=ACCOUNTS_SHOWN,
    )  # fmt: skip
    reachable = set(user["accounts"]) if user else set()
    shown = [_grant(g) for g in grants]
    return Card(
        row=row,
        user=user,
        grants=list(reversed(shown))[:GRANTS_SHOWN],
        live_grants=sum(1 for g in shown if g["working"]),
        accounts=[(a, a.account.external_id in reachable) for a in accounts.items],
        more_accounts=accounts.next_cursor is not None,
    )


def _grant(grant: dict[str, Any]) -> dict[str, Any]:
    """A grant as the control API tells it, with its times as datetimes and what it is now."""
    times = {key: datetime.fromisoformat(grant[key]) if grant.get(key) else None
             for key in ("created_at", "access_expires_at", "refresh_expires_at")}  # fmt: skip
    now = utcnow()
    refresh_ends = times["refresh_expires_at"]
    access_ends = times["access_expires_at"]
    if grant.get("revoked_reason"):
        state = f"Revoked ({str(grant['revoked_reason']).replace('_', ' ')})"
    elif (refresh_ends is not None and refresh_ends <= now) or (
        not grant.get("refreshable") and access_ends is not None and access_ends <= now
    ):
        state = "Expired"
    else:
        state = "Working"
    return {**grant, **times, "state": state, "working": state == "Working"}


async def _sandbox_user(control: Control, authorization: Authorization) -> dict[str, Any] | None:
    """The sandbox user who gave this authorization; the sandbox names its users `u_<name>`."""
    wanted = authorization.external_user_id
    guess = wanted.removeprefix("u_")
    try:
        user: dict[str, Any] = await control.call("GET", f"/users/{quote(guess, safe='')}")
    except SandboxRefused:
        user = {}
    if user.get("id") == wanted:
        return user
    every: list[dict[str, Any]] = await control.call("GET", "/users")
    found = next((u for u in every if u["id"] == wanted), None)
    # A platform's dialect has ids of its own (Meta's are numbers): the name still tells.
    return found or next((u for u in every if u["name"] == authorization.external_user_name), None)


@dataclass(frozen=True, slots=True)
class Target:
    control: Control
    authorization: Authorization
    username: str

    @property
    def who(self) -> str:
        return f"{self.authorization.external_user_name} ({self.username})"


async def _target(
    request: Request, session: AsyncSession, actor: Actor, authorization_id: uuid.UUID
) -> Target:
    actor.require_admin("use the sandbox's switches")
    control = _require_control(request)
    authorization = await authorizations.get_authorization(
        session, actor=actor, authorization_id=authorization_id
    )
    if authorization.provider not in sandbox_providers(request):
        raise Unprocessable(
            "This authorization is not one the sandbox answers for.", code="not_sandbox"
        )
    user = await _sandbox_user(control, authorization)
    if user is None:
        raise SandboxRefused(
            f"The sandbox has no user {authorization.external_user_name}: it was reset or "
            "restarted since they connected. Reconnect to give a new grant."
        )
    return Target(control, authorization, str(user["username"]))


def _switched(request: Request, message: str, *, check: uuid.UUID | Literal["all"]) -> Response:
    """A switch's answer: what it did, a *Check now* button, and the page told to reload."""
    context = {"message": message, "check": check, "links": False, "error": False}
    headers = CHANGED
    return render(request, "settings/sandbox_flash.html", context, headers=headers)


_NEXT = "Tether notices at its next check; check now to see it at once."


@router.post("/settings/sandbox/authorizations/{authorization_id}/password")
async def change_password(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    authorization_id: uuid.UUID,
    password: Annotated[str, Form(min_length=1, max_length=200)],
) -> Response:
    target = await _target(request, session, actor, authorization_id)
    path = f"/users/{quote(target.username, safe='')}/password"
    await target.control.call("POST", path, json={"password": password})
    message = (
        f"{target.who} has a new password: every grant they gave stopped working, as after a "
        f"real password change. Reconnect with the new password. {_NEXT}"
    )
    return _switched(request, message, check=authorization_id)


@router.post("/settings/sandbox/authorizations/{authorization_id}/accounts/{external_id}/{change}")
async def account_access(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    authorization_id: uuid.UUID,
    external_id: str,
    change: Literal["remove", "restore"],
) -> Response:
    """Take one account away from the sandbox user, or give it back."""
    target = await _target(request, session, actor, authorization_id)
    path = f"/users/{quote(target.username, safe='')}/accounts/{quote(external_id, safe='')}"
    await target.control.call("DELETE" if change == "remove" else "PUT", path)
    if change == "remove":
        message = (f"{target.who} can no longer reach account {external_id}: the clients that "
                   f"use it lapse, the others keep working. {_NEXT}")  # fmt: skip
    else:
        message = (f"{target.who} reaches account {external_id} again. A check finds it "
                   "working again if the grant still works; otherwise, reconnect.")  # fmt: skip
    return _switched(request, message, check=authorization_id)


FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "down": (
        {"down": True},
        "Sandbox Ads is down: every call answers 503. Tether counts it as a passing fault "
        "(Failing, retried), not a lapse, and if most of its authorizations fail at once it "
        "opens one provider outage.",
    ),
    "up": ({"down": False}, "Sandbox Ads is up again: the next check finds it working."),
    "throttle": (
        {"throttle_retry_after": THROTTLE_SECONDS},
        f"Sandbox Ads throttles every call (HTTP 429, retry after {THROTTLE_SECONDS} s): "
        "Tether backs off and tries again; its authorizations show Failing meanwhile.",
    ),
    "unthrottle": (
        {"throttle_retry_after": None},
        "Sandbox Ads no longer throttles calls: the next check finds it working.",
    ),
}


@router.post("/settings/sandbox/faults")
async def set_fault(
    request: Request,
    actor: PageActor,
    switch: Annotated[Literal["down", "up", "throttle", "unthrottle"], Form()],
) -> Response:
    """Switch a fault of the whole platform on or off."""
    actor.require_admin("use the sandbox's switches")
    control = _require_control(request)
    body, message = FAULTS[switch]
    await control.call("PUT", "/faults", json=body)
    return _switched(request, message, check="all")


@router.post("/settings/sandbox/check")
async def check_all(request: Request, sessions: SessionsDep, actor: PageActorApart) -> Response:
    """Check the organization's sandbox authorizations now (the first page of them)."""
    actor.require_admin("check authorizations from Settings")
    async with sessions.begin() as session:
        page = await authorizations.list_authorizations_page(
            session, actor=actor, provider=sandbox_providers(request), status=None, cursor=None,
            limit=AUTHORIZATIONS_SHOWN,
        )  # fmt: skip
    ids = [row.authorization.id for row in page.items]
    if not ids:
        raise Conflict("Connect Sandbox Ads first, in Data sources.", code="nothing_to_check")
    return await _checked(request, sessions, actor, ids)


@router.post("/settings/sandbox/authorizations/{authorization_id}/check")
async def check_one(
    request: Request, sessions: SessionsDep, actor: PageActorApart, authorization_id: uuid.UUID
) -> Response:
    """Check one authorization now, its accounts included."""
    actor.require_admin("check authorizations from Settings")
    async with sessions.begin() as session:
        await authorizations.get_authorization(
            session, actor=actor, authorization_id=authorization_id
        )
    return await _checked(request, sessions, actor, [authorization_id])


async def _checked(
    request: Request, sessions: async_sessionmaker[AsyncSession], actor: Actor, ids: list[uuid.UUID]
) -> Response:
    # The engine records what it saw in transactions of its own; none is held while it waits.
    engine = request.app.state.runtime.health
    for authorization_id in ids:
        await health.check_now(engine, actor=actor, authorization_id=authorization_id)
    async with sessions.begin() as session:
        checked = [
            await authorizations.get_authorization(session, actor=actor, authorization_id=i)
            for i in ids
        ]
    found = []
    for a in checked:
        said = f" {a.message}" if a.message and a.status != "active" else ""
        found.append(f"{a.external_user_name}: {STATUS_LABELS.get(a.status, a.status)}.{said}")
    message = "Checked now. " + " ".join(found)
    context = {"message": message, "check": None, "links": True, "error": False}
    return render(request, "settings/sandbox_flash.html", context,
                  headers=CHANGED)  # fmt: skip


# What each grant switch says: when the user had no working grant, and when it worked.
_GRANT_SWITCHES = {
    "revoke": (
        "{who} had no working grant left to revoke.",
        "Sandbox Ads revoked the access {who} gave Tether, as when a person removes an app "
        "from their account. " + _NEXT,
    ),
    "expire": (
        "{who} had no working grant left to expire.",
        "The tokens of {who} expired, the refresh token too: Tether cannot renew them, so "
        "they must sign in again. " + _NEXT,
    ),
}


# Declared last: its path would otherwise also match the routes above (…/check, …/password).
@router.post("/settings/sandbox/authorizations/{authorization_id}/{switch}")
async def switch_grants(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    authorization_id: uuid.UUID,
    switch: Literal["revoke", "expire"],
) -> Response:
    """Revoke or expire the grant this authorization holds, as the platform would: only that
    one, so the user's grants to other data sources (the platforms the sandbox stands in for,
    another organization) go on working."""
    target = await _target(request, session, actor, authorization_id)
    nothing, done = _GRANT_SWITCHES[switch]
    held = target.authorization.refresh_token or target.authorization.access_token
    if held is None:
        return _switched(request, nothing.format(who=target.who), check=authorization_id)
    token = {"token": vault.reveal(held)}
    try:
        grant = await target.control.call("POST", f"/grants/holding/{switch}", json=token)
    except SandboxRefused:
        raise SandboxRefused(
            f"The sandbox no longer knows the grant {target.who} gave this data source: it was "
            "reset since. Reconnect to give a new grant."
        ) from None
    message = (done if grant["was_live"] else nothing).format(who=target.who)
    return _switched(request, message, check=authorization_id)
