"""Snapchat's Marketing API in the sandbox (`adsapi.snapchat.com`): its error envelope, Snap's
ids and time zones over the sandbox's accounts, the caller of a call with the faults they meet,
`/v1/me`, the member's organizations and their ad accounts.

The sandbox's world has accounts, not organizations: an account belongs to the organization
named before the " — " in its name ("Northwind Outfitters — Search" belongs to "Northwind
Outfitters"), so the seeded world has a few organizations of two ad accounts each. Ids are
UUIDs, as Snap's are, derived from the sandbox's own, the same in every world.
"""

import base64
import binascii
import hashlib
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tether.sandbox.faults import FaultError, apply_faults, count_call, sandbox_state
from tether.sandbox.state import SandboxAccount, SandboxError, SandboxState, SandboxUser

SNAP_IDS = uuid.UUID("5f0c2f3e-6a1d-4c11-9d7e-5a2b1c0e7f42")
ZONES = (
    "America/Los_Angeles",
    "America/New_York",
    "Europe/London",
    "Europe/Paris",
    "UTC",
    "Asia/Tokyo",
    "Australia/Sydney",
)
CREATED = "2024-05-02T09:30:00.000Z"
UPDATED = "2026-01-15T12:00:00.000Z"
MIN_LIMIT, MAX_LIMIT = 50, 1000
# Snap's person-facing words for a resource out of reach (and for one that is not there).
NOT_AVAILABLE = "We're sorry, but the requested resource is not available at this time"
# The limit per token of Snap's rate limits (S2), which its throttle headers count down.
TOKEN_RATE = 10


class SnapError(Exception):
    """An error as Snap writes it: `{"request_status": "ERROR", "request_id", ...}` with either
    the developer's and the person's words and a code, or (401, 429) a short `msg`."""

    def __init__(
        self,
        status: int,
        debug: str | None = None,
        *,
        display: str | None = None,
        code: str | None = None,
        msg: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(debug or msg or "")
        self.status, self.debug, self.display = status, debug, display
        self.code, self.msg = code, msg
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"request_status": "ERROR", "request_id": request_id()}
        words = {
            "msg": self.msg,
            "debug_message": self.debug,
            "display_message": self.display,
            "error_code": self.code,
        }
        return body | {k: v for k, v in words.items() if v is not None}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def request_id() -> str:
    """A request id in Snap's style: a long hex string."""
    return secrets.token_hex(28)


def unauthorized() -> SnapError:
    """Snap's answer to any token it does not accept: it does not say why."""
    return SnapError(401, msg="Unauthorized")


def no_permission() -> SnapError:
    return SnapError(403, "Caller does not have permission", display=NOT_AVAILABLE, code="E3002")


def not_found() -> SnapError:
    return SnapError(404, "Resource can not be found", display=NOT_AVAILABLE, code="E3003")


def invalid(debug: str) -> SnapError:
    """A parameter Snap refuses (the person's words here are the sandbox's)."""
    return SnapError(400, debug, display="We're sorry, but this request is not valid.")


def fault_error(fault: FaultError) -> SnapError:
    """A sandbox switch as Snap answers it: 429 with its rate-limit headers, or a 503."""
    if fault.code != "rate_limited":
        return SnapError(
            503,
            "Service Unavailable",
            display="We're sorry, but something went wrong. Please try again later.",
        )
    wait = int(fault.headers.get("Retry-After", "1"))
    headers = {
        "Retry-After": str(wait),
        "X-Rate-Limit-Limit": str(TOKEN_RATE),
        "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Reset": str(int(time.time()) + wait),
    }
    return SnapError(429, msg="Rate limit exceeded", headers=headers)


@lru_cache(maxsize=65536)
def snap_id(kind: str, value: str) -> str:
    """Snap's id (a UUID) of a sandbox thing: `snap_id("adaccount", "1000001")`."""
    return str(uuid.uuid5(SNAP_IDS, f"{kind}:{value}"))


def account_timezone(account_id: str) -> str:
    """The time zone a sandbox account keeps its days in, the same in every world."""
    digest = hashlib.sha256(f"zone:{account_id}".encode()).digest()
    return ZONES[int.from_bytes(digest[:4], "big") % len(ZONES)]


def organization_of(account: SandboxAccount) -> str:
    """The organization an account belongs to: its name up to " — "."""
    return account.name.partition(" — ")[0].strip() or account.name


def organizations(state: SandboxState, user: SandboxUser) -> dict[str, list[SandboxAccount]]:
    """The user's organizations (by name, in the order of their first account) and the ad
    accounts of each the user reaches."""
    found: dict[str, list[SandboxAccount]] = {}
    for number in state.reachable_account_ids(user.id):
        account = state.accounts[number]
        found.setdefault(organization_of(account), []).append(account)
    return found


def reachable(state: SandboxState, user: SandboxUser, wanted: str) -> SandboxAccount:
    """The ad account with this Snap id, if the user reaches it; E3002 otherwise (Snap does
    not tell an account out of reach from one that is not there)."""
    for number in state.reachable_account_ids(user.id):
        if snap_id("adaccount", number) == wanted:
            return state.accounts[number]
    raise no_permission()


# -- who calls, and the faults they meet ----------------------------------------------------


def _token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def _faults(state: SandboxState, username: str | None) -> None:
    try:
        await apply_faults(state, username)
    except FaultError as fault:
        raise fault_error(fault) from None


def caller(kind: str) -> Callable[[Request], Awaitable[SandboxUser]]:
    """Dependency of a route of `kind`: the member behind the token, after the faults they
    meet (down or throttled says so before a bad token does)."""

    async def current(request: Request) -> SandboxUser:
        state = sandbox_state(request)
        count_call(request, kind, None)
        token = _token(request)
        try:
            if token is None:
                raise SandboxError("invalid_token", "No bearer token.")
            user = state.user_for_access_token(token)
        except SandboxError:
            await _faults(state, None)
            raise unauthorized() from None
        count_call(request, kind, user.username)
        await _faults(state, user.username)
        return user

    return current


# -- lists and their paging -----------------------------------------------------------------


def _limit(request: Request) -> int | None:
    raw = request.query_params.get("limit")
    if raw is None:
        return None
    if not raw.isdigit() or not MIN_LIMIT <= int(raw) <= MAX_LIMIT:
        raise invalid(f"The limit must be a number from {MIN_LIMIT} to {MAX_LIMIT}.")
    return int(raw)


def _offset(request: Request) -> int:
    cursor = request.query_params.get("cursor")
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    if not text.isdigit():
        raise invalid("The cursor is not valid.")
    return int(text)


def paged(
    request: Request, plural: str, singular: str, nodes: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """A Snap list: every item wrapped with its status; with a `limit`, one page of them and
    the next page's whole URL (with its `cursor`) while more remain."""
    limit, start = _limit(request), _offset(request)
    page = nodes[start : start + limit] if limit is not None else nodes[start:]
    body: dict[str, Any] = {"request_status": "SUCCESS", "request_id": request_id()}
    if limit is not None and start + limit < len(nodes):
        cursor = base64.urlsafe_b64encode(str(start + limit).encode()).decode().rstrip("=")
        following = request.url.include_query_params(cursor=cursor, limit=limit)
        body["paging"] = {"next_link": str(following)}
    else:
        body["paging"] = {}
    body[plural] = [{"sub_request_status": "SUCCESS", singular: node} for node in page]
    return body


# -- the API --------------------------------------------------------------------------------

api = APIRouter(prefix="/api")


def account_node(account: SandboxAccount) -> dict[str, Any]:
    organization = snap_id("organization", organization_of(account))
    return {
        "id": snap_id("adaccount", account.id),
        "updated_at": UPDATED,
        "created_at": CREATED,
        "name": account.name,
        "type": "PARTNER",
        "status": "ACTIVE",
        "organization_id": organization,
        "funding_source_ids": [],
        "currency": account.currency,
        "timezone": account_timezone(account.id),
        "advertiser_organization_id": organization,
        "billing_type": "REVOLVING",
        "agency_representing_client": False,
        "client_paying_invoices": False,
    }


def _organization_node(name: str, accounts: Sequence[SandboxAccount] | None) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": snap_id("organization", name),
        "updated_at": UPDATED,
        "created_at": CREATED,
        "name": name,
        "country": "US",
        "type": "ENTERPRISE",
    }
    if accounts is not None:
        node["ad_accounts"] = [account_node(a) for a in accounts]
    return node


@api.get("/v1/me")
async def me(user: Annotated[SandboxUser, Depends(caller("me"))], request: Request) -> Any:
    """The member behind the token."""
    own = next(iter(organizations(sandbox_state(request), user)), f"{user.name}'s organization")
    member = {
        "id": snap_id("member", user.id),
        "updated_at": UPDATED,
        "created_at": CREATED,
        "email": user.email,
        "organization_id": snap_id("organization", own),
        "display_name": user.name,
    }
    return {"request_status": "SUCCESS", "request_id": request_id(), "me": member}


@api.get("/v1/me/organizations")
async def my_organizations(
    request: Request, user: Annotated[SandboxUser, Depends(caller("accounts"))]
) -> Any:
    """The organizations the member belongs to (with their ad accounts when asked)."""
    embedded = request.query_params.get("with_ad_accounts") == "true"
    found = organizations(sandbox_state(request), user)
    nodes = [_organization_node(n, accounts if embedded else None) for n, accounts in found.items()]
    return paged(request, "organizations", "organization", nodes)


@api.get("/v1/organizations/{organization_id}/adaccounts")
async def organization_accounts(
    request: Request,
    organization_id: str,
    user: Annotated[SandboxUser, Depends(caller("accounts"))],
) -> Any:
    """The ad accounts of one of the member's organizations that they reach."""
    found = organizations(sandbox_state(request), user)
    accounts = next(
        (a for name, a in found.items() if snap_id("organization", name) == organization_id), None
    )
    if accounts is None:
        raise no_permission()
    return paged(request, "adaccounts", "adaccount", [account_node(a) for a in accounts])


@api.get("/v1/adaccounts/{account_id}")
async def ad_account(
    request: Request, account_id: str, user: Annotated[SandboxUser, Depends(caller("accounts"))]
) -> Any:
    """One ad account the member reaches."""
    node = account_node(reachable(sandbox_state(request), user, account_id))
    wrapped = [{"sub_request_status": "SUCCESS", "adaccount": node}]
    return {"request_status": "SUCCESS", "request_id": request_id(), "adaccounts": wrapped}
