"""The Amazon Ads API in the sandbox (`advertising-api{,-eu,-fe}.amazon.com`, one prefix per
region: `/na`, `/eu`, `/fe`): its error bodies, the sandbox's accounts as profiles in their
marketplaces, the caller of a call with the faults they meet, and `/v2/profiles`.

An account's marketplace (so its region, its country and the profile's time zone) follows its
currency: USD is the US marketplace (NA), EUR Germany's (EU), JPY Japan's (FE), and so on; a
currency Amazon has no marketplace for is sold in the US one. Profile ids are numbers, as
Amazon's are, derived from the sandbox's own ids and the same in every world.
"""

import base64
import hashlib
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tether.sandbox.faults import FaultError, apply_faults, count_call, sandbox_state
from tether.sandbox.state import SandboxAccount, SandboxError, SandboxState, SandboxUser

REGIONS = ("na", "eu", "fe")
ADS_SCOPE = "advertising::campaign_management"
CLIENT_ID_HEADER = "amazon-advertising-api-clientid"
SCOPE_HEADER = "amazon-advertising-api-scope"
PROFILE_TYPES = ("seller", "vendor", "agency")
# The words of Amazon's error table (ads docs, "Error responses"), and of answers seen in the
# wild (see `providers/amazon_ads.py`).
AUTHENTICATION_FAILED = "Authentication failed"
TOO_MANY_REQUESTS = "Too Many Requests"
SERVER_ERROR = "Something went wrong on the server. Retry later and report an error if unresolved."


@dataclass(frozen=True)
class Marketplace:
    country: str
    region: str
    marketplace_id: str
    timezone: str


US = Marketplace("US", "na", "ATVPDKIKX0DER", "America/Los_Angeles")
MARKETPLACES = {
    "USD": US,
    "CAD": Marketplace("CA", "na", "A2EUQ1WTGCTBG2", "America/Los_Angeles"),
    "MXN": Marketplace("MX", "na", "A1AM78C64UM0Y8", "America/Los_Angeles"),
    "BRL": Marketplace("BR", "na", "A2Q3Y263D00KWC", "America/Sao_Paulo"),
    "GBP": Marketplace("UK", "eu", "A1F83G8C2ARO7P", "Europe/London"),
    "EUR": Marketplace("DE", "eu", "A1PA6795UKMFR9", "Europe/Paris"),
    "SEK": Marketplace("SE", "eu", "A2NODRKZP88ZB9", "Europe/Paris"),
    "PLN": Marketplace("PL", "eu", "A1C3SOZRARQ6R3", "Europe/Paris"),
    "INR": Marketplace("IN", "eu", "A21TJRUUN4KGV", "Asia/Kolkata"),
    "JPY": Marketplace("JP", "fe", "A1VC38T7YXB528", "Asia/Tokyo"),
    "AUD": Marketplace("AU", "fe", "A39IBJ37TRP1C6", "Australia/Sydney"),
    "SGD": Marketplace("SG", "fe", "A19VAU5U5O7RUS", "Asia/Singapore"),
}


class AdsError(Exception):
    """An error as the Ads API writes it: `{"code", "details"}` (or, from its gateway, a bare
    `{"message"}`; a 425's own `detail`)."""

    def __init__(
        self, status: int, body: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(str(body))
        self.status, self.body = status, dict(body)
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        headers = {"x-amzn-RequestId": request_id(), **self.headers}
        return JSONResponse(self.body, status_code=self.status, headers=headers)


def request_id() -> str:
    """A request id in Amazon's style: 20 upper-case letters and digits."""
    return base64.b32encode(secrets.token_bytes(15)).decode()[:20]


def ads_error(status: int, code: str, details: str) -> AdsError:
    return AdsError(status, {"code": code, "details": details})


def authentication_failed() -> AdsError:
    """Amazon's answer to any token it does not take: it does not say why."""
    return ads_error(401, "401", AUTHENTICATION_FAILED)


def not_authorized(profile: str) -> AdsError:
    """A profile the caller does not (or no longer) manage, or one of another region."""
    return ads_error(401, "UNAUTHORIZED", f"Not authorized to access scope {profile}")


def invalid(details: str) -> AdsError:
    return ads_error(400, "400", details)


def not_found(url: str) -> AdsError:
    return ads_error(404, "NOT_FOUND", f"Could not find resource for full path: {url}")


def fault_error(fault: FaultError) -> AdsError:
    """A sandbox switch as the API answers it: 429 with Retry-After, or a 500."""
    if fault.code != "rate_limited":
        return ads_error(500, "500", SERVER_ERROR)
    wait = fault.headers.get("Retry-After", "1")
    return AdsError(429, {"message": TOO_MANY_REQUESTS}, {"Retry-After": wait})


# -- profiles -------------------------------------------------------------------------------


def marketplace_of(account: SandboxAccount) -> Marketplace:
    return MARKETPLACES.get(account.currency, US)


@lru_cache(maxsize=65536)
def profile_id(account_id: str) -> int:
    """Amazon's profile id of a sandbox account: a 15-16 digit number."""
    digest = hashlib.sha256(f"amazon:profile:{account_id}".encode()).hexdigest()
    return 10**14 + int(digest[:15], 16) % (9 * 10**15)


def account_of(state: SandboxState, profile: str) -> SandboxAccount | None:
    """The sandbox account a profile id names, if any."""
    if not profile.isdigit():
        return None
    wanted = int(profile)
    return next((a for n, a in state.accounts.items() if profile_id(n) == wanted), None)


def _entity(account_id: str, vendor: bool) -> str:
    digest = hashlib.sha256(f"amazon:entity:{account_id}".encode()).digest()
    code = base64.b32encode(digest).decode()[:14]
    return f"ENTITY{code}" if vendor else f"A{code[:13]}"


def profile_node(account: SandboxAccount) -> dict[str, Any]:
    """A profile as `/v2/profiles` lists it; about one account in four is a vendor's."""
    place = marketplace_of(account)
    vendor = profile_id(account.id) % 4 == 0
    return {
        "profileId": profile_id(account.id),
        "countryCode": place.country,
        "currencyCode": account.currency,
        "timezone": place.timezone,
        "accountInfo": {
            "marketplaceStringId": place.marketplace_id,
            "id": _entity(account.id, vendor),
            "type": "vendor" if vendor else "seller",
            "name": account.name,
            "validPaymentMethod": True,
        },
    }


# -- who calls, and the faults they meet ----------------------------------------------------


@dataclass(frozen=True)
class Caller:
    user: SandboxUser
    # The grant the token belongs to: a report is its grant's, as a refresh keeps it.
    grant_id: str
    region: str


def _token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def _faults(state: SandboxState, username: str | None) -> None:
    try:
        await apply_faults(state, username)
    except FaultError as fault:
        raise fault_error(fault) from None


def _identify(state: SandboxState, request: Request) -> Caller:
    """The user behind the token, if the token is live, of the client that sends it, and
    granted the Ads API's scope; Amazon says no more than "Authentication failed"."""
    token = _token(request)
    if token is None:
        raise authentication_failed()
    try:
        user = state.user_for_access_token(token)
    except SandboxError:
        raise authentication_failed() from None
    grant = state.grant_holding(token)
    if request.headers.get(CLIENT_ID_HEADER) != grant.client_id or ADS_SCOPE not in grant.scope:
        raise authentication_failed()
    return Caller(user, grant.id, request.path_params.get("region", ""))


def caller(kind: str) -> Callable[[Request], Awaitable[Caller]]:
    """Dependency of a route of `kind` under a region's prefix: the caller, counted, after the
    faults they meet (down or throttled says so before a bad token does)."""

    async def current(request: Request) -> Caller:
        if request.path_params.get("region") not in REGIONS:
            raise not_found(str(request.url))
        state = sandbox_state(request)
        count_call(request, kind, None)
        try:
            found = _identify(state, request)
        except AdsError:
            await _faults(state, None)
            raise
        count_call(request, kind, found.user.username)
        await _faults(state, found.user.username)
        return found

    return current


def scoped(state: SandboxState, request: Request, who: Caller) -> SandboxAccount:
    """The profile named by `Amazon-Advertising-API-Scope`, if the caller manages it on this
    region's host; Amazon's 401 with the words of its error table otherwise."""
    profile = request.headers.get(SCOPE_HEADER, "").strip()
    if not profile:
        raise ads_error(401, "UNAUTHORIZED", "Scope header is missing")
    account = account_of(state, profile)
    if account is None:
        raise ads_error(401, "UNAUTHORIZED", f"No matching advertiser found for scope {profile}")
    reached = account.id in state.reachable_account_ids(who.user.id)
    if not reached or marketplace_of(account).region != who.region:
        raise not_authorized(profile)
    return account


# -- the API --------------------------------------------------------------------------------

api = APIRouter()


def _profile_types(request: Request) -> set[str]:
    raw = request.query_params.get("profileTypeFilter")
    if raw is None:
        return set(PROFILE_TYPES)
    wanted = {t.strip() for t in raw.split(",") if t.strip()}
    unknown = sorted(wanted - set(PROFILE_TYPES))
    if unknown or not wanted:
        raise invalid(f"Invalid profileTypeFilter: {', '.join(unknown) or raw!r}")
    return wanted


@api.get("/{region}/v2/profiles")
async def profiles(request: Request, who: Annotated[Caller, Depends(caller("accounts"))]) -> Any:
    """The caller's profiles in this host's region (at most 5000, as Amazon answers)."""
    state = sandbox_state(request)
    types = _profile_types(request)
    accounts = (state.accounts[n] for n in state.reachable_account_ids(who.user.id))
    nodes = [profile_node(a) for a in accounts if marketplace_of(a).region == who.region]
    return [n for n in nodes if n["accountInfo"]["type"] in types][:5000]
