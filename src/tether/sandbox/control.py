"""Control API under `/control`: lets tests and newcomers reshape the sandbox at will."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tether.sandbox.faults import sandbox_state
from tether.sandbox.state import Grant, NewAccount, NewUser, SandboxState, SandboxUser

router = APIRouter(prefix="/control")


class UserBody(BaseModel):
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)
    name: str | None = None
    email: str | None = None
    accounts: list[str] = []


class AccountBody(BaseModel):
    id: str | None = None
    name: str = Field(min_length=1)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    users: list[str] = []


class ManagerBody(BaseModel):
    username: str = Field(min_length=1)
    name: str = Field(min_length=1)
    clients: int = Field(default=0, ge=0, le=5000)
    currency: str = Field(default="USD", min_length=3, max_length=3)


class PasswordBody(BaseModel):
    password: str = Field(min_length=1)


class FaultsBody(BaseModel):
    # When given, the faults of this body hit only calls made with these users' credentials.
    users: list[str] | None = Field(default=None, min_length=1)
    down: bool | None = None
    throttle_retry_after: int | None = Field(default=None, ge=0)
    slow_ms: int | None = Field(default=None, ge=0, le=120_000)


class SettingsBody(BaseModel):
    access_token_lifetime: int | None = Field(default=None, ge=1)
    rotate_refresh_tokens: bool | None = None
    refreshable: bool | None = None
    non_refreshable_lifetime: int | None = Field(default=None, ge=1)
    history_days: int | None = Field(default=None, ge=0)
    refresh_token_lifetime: int | None = Field(default=None, ge=1)
    reuse_detection: bool | None = None
    report_job_seconds: int | None = Field(default=None, ge=0, le=86_400)
    report_pending_polls: int | None = Field(default=None, ge=0)


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


def _grant_json(state: SandboxState, grant: Grant) -> dict[str, Any]:
    return {
        "id": grant.id,
        "username": state.users[grant.user_id].username,
        "client_id": grant.client_id,
        "scope": grant.scope,
        "refreshable": grant.refresh_token is not None,
        # After a rotation: the replaced refresh token still works until its successor is used.
        "refresh_grace": grant.previous_refresh_token is not None,
        "created_at": _iso(grant.created_at),
        "access_expires_at": _iso(grant.access_expires_at),
        "refresh_expires_at": _iso(grant.refresh_expires_at),
        "revoked_reason": grant.revoked_reason,
    }


def _user_json(state: SandboxState, user: SandboxUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        # The control API is the only way a local tester learns a user's API key.
        "api_key": user.api_key,
        "accounts": state.reachable_account_ids(user.id),
    }


@router.get("/state")
async def get_state(request: Request) -> dict[str, Any]:
    """Counts, settings and faults."""
    return sandbox_state(request).summary()


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    """Re-seed the world; grants, faults, settings and stats go back to their defaults."""
    state = sandbox_state(request)
    state.reset()
    return state.summary()


@router.get("/users")
async def list_users(request: Request) -> list[dict[str, Any]]:
    """Every user with API key and reachable account ids (never passwords)."""
    state = sandbox_state(request)
    return [_user_json(state, user) for user in list(state.users.values())]


@router.get("/users/{username}")
async def get_user(request: Request, username: str) -> dict[str, Any]:
    """One user."""
    state = sandbox_state(request)
    return _user_json(state, state.user(username))


@router.post("/users/{username}/api-key")
async def regenerate_api_key(request: Request, username: str) -> dict[str, Any]:
    """The user replaces their API key: every tool speaking it refuses the old one."""
    state = sandbox_state(request)
    return _user_json(state, state.regenerate_api_key(username))


@router.post("/users", status_code=201)
async def create_users(request: Request, body: list[UserBody]) -> list[dict[str, Any]]:
    """Bulk-create users, all or nothing."""
    state = sandbox_state(request)
    specs = [NewUser(u.username, u.password, u.name, u.email, u.accounts) for u in body]
    return [_user_json(state, user) for user in state.add_users(specs)]


@router.post("/accounts", status_code=201)
async def create_accounts(request: Request, body: list[AccountBody]) -> list[dict[str, str]]:
    """Bulk-create accounts shared by the listed users, all or nothing."""
    specs = [NewAccount(a.name, a.currency, a.id, a.users) for a in body]
    created = sandbox_state(request).add_accounts(specs)
    return [{"id": a.id, "name": a.name, "currency": a.currency} for a in created]


@router.post("/google/managers", status_code=201)
async def create_manager(request: Request, body: ManagerBody) -> dict[str, Any]:
    """A manager account (Google Ads' MCC) the user reaches, over `clients` new accounts that
    the user reaches only through it."""
    made = sandbox_state(request).add_manager(
        body.username, body.name, body.clients, currency=body.currency
    )
    return {
        **asdict(made.account),
        "clients": [asdict(client) for client in made.clients],
    }


@router.post("/users/{username}/password")
async def change_password(request: Request, username: str, body: PasswordBody) -> dict[str, Any]:
    """Change a password; the user's grants are revoked with reason `password_changed`."""
    state = sandbox_state(request)
    revoked = state.change_password(username, body.password)
    return {"username": username, "revoked_grants": [g.id for g in revoked]}


@router.delete("/users/{username}/accounts/{account_id}")
async def remove_access(request: Request, username: str, account_id: str) -> dict[str, Any]:
    """The user loses access to one account."""
    sandbox_state(request).remove_access(username, account_id)
    return {"username": username, "account_id": account_id, "access": False}


@router.put("/users/{username}/accounts/{account_id}")
async def restore_access(request: Request, username: str, account_id: str) -> dict[str, Any]:
    """The user (re)gains access to one account."""
    sandbox_state(request).restore_access(username, account_id)
    return {"username": username, "account_id": account_id, "access": True}


@router.get("/grants")
async def list_grants(request: Request, username: str | None = None) -> list[dict[str, Any]]:
    """Grants, optionally of one user; tokens are never shown."""
    state = sandbox_state(request)
    return [_grant_json(state, grant) for grant in state.grants_for(username)]


class HeldToken(BaseModel):
    token: str = Field(min_length=1, max_length=500)


# Declared before `/grants/{grant_id}/{action}`, whose path would match it too.
@router.post("/grants/holding/{action}")
async def held_grant_action(request: Request, action: str, body: HeldToken) -> dict[str, Any]:
    """`expire`, `expire-access` or `revoke` the grant a token belongs to: the one grant a
    client holds, whatever else its user granted."""
    state = sandbox_state(request)
    grant = state.grant_holding(body.token)
    was_live = grant.revoked_reason is None
    state.act_on_grant(grant.id, action)
    return {**_grant_json(state, grant), "was_live": was_live}


@router.post("/grants/{grant_id}/{action}")
async def grant_action(request: Request, grant_id: str, action: str) -> dict[str, Any]:
    """`expire`, `expire-access` or `revoke` one grant."""
    state = sandbox_state(request)
    grant = state.grant(grant_id)
    state.act_on_grant(grant.id, action)
    return _grant_json(state, grant)


@router.post("/users/{username}/grants/{action}")
async def user_grants_action(request: Request, username: str, action: str) -> list[dict[str, Any]]:
    """`expire`, `expire-access` or `revoke` every live grant of a user."""
    state = sandbox_state(request)
    return [_grant_json(state, g) for g in state.act_on_user_grants(username, action)]


@router.get("/faults")
async def get_faults(request: Request) -> dict[str, Any]:
    """Global faults and those of single users: `{"global": {...}, "users": {"alice": {...}}}`."""
    return sandbox_state(request).faults_snapshot()


@router.put("/faults")
async def put_faults(request: Request, body: FaultsBody) -> dict[str, Any]:
    """Partially update faults; `throttle_retry_after: null` switches throttling off.

    Without `users` the global faults change and are returned; with `users` only those users'
    faults change and the answer has the shape of `GET /control/faults`.
    """
    changes = body.model_dump(exclude_unset=True, exclude={"users"})
    changes = {k: v for k, v in changes.items() if v is not None or k == "throttle_retry_after"}
    state = sandbox_state(request)
    if body.users is None:
        return asdict(state.set_faults(**changes))
    state.set_user_faults(body.users, **changes)
    return state.faults_snapshot()


@router.delete("/faults")
async def clear_faults(request: Request) -> dict[str, Any]:
    """Switch every fault off, global and per user; answers the (cleared) global faults."""
    return asdict(sandbox_state(request).clear_faults())


@router.get("/stats")
async def get_stats(request: Request) -> dict[str, Any]:
    """Answered calls per user and in total, per kind (`me`, `token_refresh`...): ok / failed."""
    return sandbox_state(request).stats()


@router.delete("/stats")
async def reset_stats(request: Request) -> dict[str, Any]:
    """Forget every counted call; answers the (empty) statistics."""
    state = sandbox_state(request)
    state.reset_stats()
    return state.stats()


@router.put("/settings")
async def put_settings(request: Request, body: SettingsBody) -> dict[str, Any]:
    """Partially update token and history settings."""
    changes = body.model_dump(exclude_unset=True)
    changes = {k: v for k, v in changes.items() if v is not None or k == "refresh_token_lifetime"}
    return asdict(sandbox_state(request).update_settings(**changes))
