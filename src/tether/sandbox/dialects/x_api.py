"""X's APIs in the sandbox: who calls (a signed request with a live token) and the faults they
meet, the member's identity at api.x.com, and the Ads API's accounts and funding instruments at
ads-api.x.com (`/ads/12/…`).

Ids are X's kind: an ad account's is a short base-36 string ("18ce54d4x5t"), a user's a large
number, both derived from the sandbox's own, the same in every world. Each account keeps its
days in a time zone of its own, and is billed in its currency through one funding instrument.
"""

import base64
import binascii
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from tether.sandbox.dialects.x_auth import (
    Nonces,
    RequestTokens,
    XError,
    bad_authentication,
    check,
    expired_token,
    not_authenticated,
    signed,
)
from tether.sandbox.faults import FaultError, apply_faults, count_call, sandbox_state
from tether.sandbox.state import SandboxAccount, SandboxError, SandboxState, SandboxUser

API_VERSION = "12"
ZONES = (
    "America/Los_Angeles",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
)
CREATED = "2024-03-04T10:50:42Z"
UPDATED = "2026-01-15T12:00:00Z"
DEFAULT_COUNT, MAX_COUNT = 200, 1000
# The limits X's rate-limit headers count down: a token's per 15 minutes, an account's.
USER_LIMIT, ACCOUNT_LIMIT = 2000, 10_000
INTERNAL_ERROR = "Internal error"
RATE_LIMIT_EXCEEDED = "Rate limit exceeded"


@dataclass
class Auth:
    """The dialect's own OAuth 1.0a records, beside the sandbox's world: nonces and request
    tokens (neither outlives a restart)."""

    nonces: Nonces
    requests: RequestTokens


def auth_of(request: Request) -> Auth:
    found: Auth = request.app.state.x_auth
    return found


# -- X's ids --------------------------------------------------------------------------------


def _digest(kind: str, value: str) -> int:
    return int(hashlib.sha256(f"x:{kind}:{value}".encode()).hexdigest()[:16], 16)


@lru_cache(maxsize=65536)
def x_id(kind: str, value: str, length: int = 11) -> str:
    """X's short base-36 id of a sandbox thing: `x_id("account", "1000001")`."""
    number, digits = _digest(kind, value), "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while len(out) < length:
        number, rest = divmod(number, 36)
        out += digits[rest]
    return out


def user_id(user: SandboxUser) -> str:
    """X's numeric id of a sandbox user."""
    return str(10**17 + _digest("user", user.id) % (9 * 10**17))


def account_timezone(account: SandboxAccount) -> str:
    return ZONES[_digest("zone", account.id) % len(ZONES)]


# -- errors ---------------------------------------------------------------------------------


def ads_error(
    status: int,
    code: str,
    message: str,
    request: Request,
    *,
    headers: Mapping[str, str] | None = None,
    **more: Any,
) -> XError:
    """An Ads API error, with the parameters it read echoed as `request.params`."""
    echoed = {**request.path_params, **dict(request.query_params)}
    echoed.pop("version", None)
    return XError(status, code, message, more=more, request=echoed, headers=headers)


def invalid(request: Request, parameter: str, message: str) -> XError:
    return ads_error(400, "INVALID_PARAMETER", message, request, parameter=parameter)


def missing(request: Request, parameter: str) -> XError:
    return ads_error(400, "MISSING_PARAMETER", f'"{parameter}" is missing', request)


def account_not_found(request: Request, account_id: str) -> XError:
    """What an ad account the member does not (or no longer) reach answers: X does not tell one
    from an account that is not there (the words are the sandbox's)."""
    message = f"Account {account_id} was not found or the current user cannot access it."
    return ads_error(403, "ACCOUNT_NOT_FOUND", message, request)


def fault_error(fault: FaultError, request: Request, *, ads: bool) -> XError:
    """A sandbox switch as X answers it: 500 when down; 429 with X's rate-limit headers (the
    reset an epoch), the ad account's too on a call about one."""
    if fault.code != "rate_limited":
        if ads:
            return ads_error(500, "INTERNAL_ERROR", INTERNAL_ERROR, request)
        return XError(500, 131, INTERNAL_ERROR)
    reset = str(int(time.time()) + int(fault.headers.get("Retry-After", "0")))
    headers = _limits("x-rate-limit", USER_LIMIT, reset)
    if ads and "account_id" in request.path_params:
        headers |= _limits("x-account-rate-limit", ACCOUNT_LIMIT, reset)
    if ads:
        return ads_error(429, "TOO_MANY_REQUESTS", RATE_LIMIT_EXCEEDED, request, headers=headers)
    return XError(429, 88, RATE_LIMIT_EXCEEDED, headers=headers)


def _limits(prefix: str, limit: int, reset: str) -> dict[str, str]:
    return {f"{prefix}-limit": str(limit), f"{prefix}-remaining": "0", f"{prefix}-reset": reset}


# -- who calls, and the faults they meet ----------------------------------------------------


@dataclass(frozen=True)
class Caller:
    user: SandboxUser
    token: str


async def authenticated(request: Request, state: SandboxState) -> Caller:
    """The member behind a signed request: an app the sandbox knows, a token it issued (89
    otherwise, or once it is dead), and a signature made with both secrets (32 otherwise)."""
    call = await signed(request)
    if not state.client_known(call.consumer_key):
        raise not_authenticated()
    if not call.token:
        raise bad_authentication()
    secret = state.token_secret_of(call.token)
    if secret is None:
        raise expired_token()
    check(call, state.clients[call.consumer_key], secret, auth_of(request).nonces)
    try:
        return Caller(state.user_for_access_token(call.token), call.token)
    except SandboxError:
        raise expired_token() from None


def caller(kind: str, *, ads: bool = True) -> Callable[[Request], Awaitable[Caller]]:
    """Dependency of a route of `kind`: the member, counted, after the faults they meet (down
    or throttled says so before a bad signature does)."""

    async def current(request: Request) -> Caller:
        state = sandbox_state(request)
        count_call(request, kind, None)
        try:
            found = await authenticated(request, state)
        except XError:
            await _faults(request, state, None, ads)
            raise
        count_call(request, kind, found.user.username)
        await _faults(request, state, found.user.username, ads)
        return found

    return current


async def _faults(request: Request, state: SandboxState, username: str | None, ads: bool) -> None:
    try:
        await apply_faults(state, username)
    except FaultError as fault:
        raise fault_error(fault, request, ads=ads) from None


Member = Annotated[Caller, Depends(caller("me", ads=False))]
Reader = Annotated[Caller, Depends(caller("accounts"))]


def reachable(request: Request, who: Caller, account_id: str) -> SandboxAccount:
    """The ad account with this X id, if the member reaches it now."""
    state = sandbox_state(request)
    for number in state.reachable_account_ids(who.user.id):
        if x_id("account", number) == account_id:
            return state.accounts[number]
    raise account_not_found(request, account_id)


def version(request: Request) -> None:
    """Only the pinned version answers: any other path is a route X does not have."""
    if request.path_params.get("version") != API_VERSION:
        raise ads_error(
            404, "ROUTE_NOT_FOUND", "The requested resource could not be found", request
        )


# -- the member at api.x.com ----------------------------------------------------------------

api = APIRouter(prefix="/api")


@api.get("/1.1/account/verify_credentials.json")
async def verify_credentials(who: Member) -> dict[str, Any]:
    """The member behind the token, as X's user object."""
    return {
        "id": int(user_id(who.user)),
        "id_str": user_id(who.user),
        "name": who.user.name,
        "screen_name": who.user.username,
        "location": "",
        "description": "",
        "protected": False,
        "verified": False,
        "created_at": "Wed Mar 04 10:50:42 +0000 2015",
    }


# -- the Ads API ----------------------------------------------------------------------------

ads = APIRouter(prefix="/ads", dependencies=[Depends(version)])


def account_node(account: SandboxAccount) -> dict[str, Any]:
    return {
        "name": account.name,
        "business_name": None,
        "timezone": account_timezone(account),
        "timezone_switch_at": CREATED,
        "id": x_id("account", account.id),
        "created_at": CREATED,
        "updated_at": UPDATED,
        "business_id": None,
        "approval_status": "ACCEPTED",
        "deleted": False,
    }


def _count(request: Request) -> int:
    raw = request.query_params.get("count", str(DEFAULT_COUNT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_COUNT:
        raise invalid(request, "count", f"Expected a number from 1 to {MAX_COUNT}, got {raw!r}")
    return int(raw)


def _after(request: Request) -> str | None:
    cursor = request.query_params.get("cursor")
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise invalid(request, "cursor", f"Invalid cursor {cursor!r}") from None


def _cursor(number: str | None) -> str | None:
    return base64.urlsafe_b64encode(number.encode()).decode().rstrip("=") if number else None


@ads.get("/{version}/accounts")
async def accounts(request: Request, who: Reader) -> dict[str, Any]:
    """The ad accounts the member has access to, a page at a time (`count`, `cursor`)."""
    state = sandbox_state(request)
    page, last = state.page_accounts(who.user.id, _count(request), _after(request))
    return {
        "request": {"params": dict(request.query_params)},
        "data_type": "account",
        "data": [account_node(a) for a in page],
        "next_cursor": _cursor(last),
    }


@ads.get("/{version}/accounts/{account_id}")
async def account(request: Request, account_id: str, who: Reader) -> dict[str, Any]:
    """One ad account the member reaches."""
    found = reachable(request, who, account_id)
    return {"request": {"params": {"account_id": account_id}}, "data": account_node(found)}


@ads.get("/{version}/accounts/{account_id}/funding_instruments")
async def funding_instruments(request: Request, account_id: str, who: Reader) -> dict[str, Any]:
    """The account's one funding instrument, in the account's currency."""
    found = reachable(request, who, account_id)
    instrument = {
        "id": x_id("funding_instrument", found.id, 5),
        "account_id": account_id,
        "description": "Visa ending in 0650",
        "type": "CREDIT_CARD",
        "currency": found.currency,
        "entity_status": "ACTIVE",
        "able_to_fund": True,
        "reasons_not_able_to_fund": [],
        "start_time": CREATED,
        "end_time": None,
        "created_at": CREATED,
        "updated_at": UPDATED,
        "deleted": False,
    }
    params = {"account_id": account_id, **dict(request.query_params)}
    return {"request": {"params": params}, "data": [instrument], "next_cursor": None}
