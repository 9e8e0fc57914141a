"""LinkedIn's API in the sandbox (`api.linkedin.com`): its error envelope, the caller of a
call with the faults they meet, `/v2/userinfo` and the versioned `/rest` resources (the
member's ad account roles, a batch get of ad accounts, adAnalytics per day)."""

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tether.sandbox.faults import FaultError, apply_faults, count_call, sandbox_state
from tether.sandbox.metrics import day_metrics, served_days
from tether.sandbox.state import SandboxAccount, SandboxError, SandboxState, SandboxUser

ACCOUNT_URN = "urn:li:sponsoredAccount:"
PERSON_URN = "urn:li:person:"
DEFAULT_COUNT = 10
MAX_COUNT = 1000
VERSION = re.compile(r"^\d{6}$")
_DATE = r"\(year:(\d{4}),month:(\d{1,2}),day:(\d{1,2})\)"
DATE_RANGE = re.compile(rf"^\(start:{_DATE}(?:,end:{_DATE})?\)$")
ANALYTICS_FIELDS = (
    "dateRange",
    "impressions",
    "clicks",
    "costInLocalCurrency",
    "externalWebsiteConversions",
    "oneClickLeads",
    "pivotValues",
)

_LAPSES = {
    "token_expired": (65602, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"),
    "token_revoked": (
        65601,
        "REVOKED_ACCESS_TOKEN",
        "The token used in the request has been revoked by the user",
    ),
}


class LinkedInError(Exception):
    """An error in LinkedIn's envelope: `{"status", "serviceErrorCode", "code", "message"}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        service_code: int | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.service_code, self.code = service_code, code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status}
        if self.service_code is not None:
            body["serviceErrorCode"] = self.service_code
        if self.code is not None:
            body["code"] = self.code
        body["message"] = self.message
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def illegal(message: str) -> LinkedInError:
    return LinkedInError(400, message, code="ILLEGAL_ARGUMENT")


def no_permission(resource: str = "adAnalytics") -> LinkedInError:
    """What LinkedIn answers for a resource the member (or the grant's scopes) cannot reach:
    an ad account they have no role on any more, or a call without its scope."""
    message = f"Not enough permissions to access: {resource}.GET.20261001"
    return LinkedInError(403, message, service_code=100, code="ACCESS_DENIED")


def token_error(error: SandboxError) -> LinkedInError:
    """A token the sandbox refuses, in LinkedIn's words. LinkedIn does not say why it revoked
    a token, so a password change is a revocation like any other."""
    found = _LAPSES.get("token_revoked" if error.code == "password_changed" else error.code)
    if found is None:
        return LinkedInError(
            401, "Invalid access token", service_code=65600, code="INVALID_ACCESS_TOKEN"
        )
    service_code, code, message = found
    return LinkedInError(401, message, service_code=service_code, code=code)


def fault_error(fault: FaultError) -> LinkedInError:
    """A sandbox switch as LinkedIn answers it: 429 with code 101 and no rate-limit headers
    (LinkedIn sends none), or a 503."""
    if fault.code == "rate_limited":
        return LinkedInError(
            429,
            "Resource level throttle limit for calls to this resource is reached.",
            service_code=101,
            code="TOO_MANY_REQUESTS",
        )
    return LinkedInError(503, "Service Unavailable. Please retry the request later.")


def _token(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise LinkedInError(401, "Empty oauth2_access_token", service_code=401)
    return value.strip()


def _version(request: Request) -> None:
    version = request.headers.get("linkedin-version")
    if not version:
        raise LinkedInError(
            400,
            "A version must be present. Please specify a version by adding the "
            "LinkedIn-Version header.",
            code="VERSION_MISSING",
        )
    if not VERSION.match(version):
        raise LinkedInError(
            426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION"
        )
    if request.headers.get("x-restli-protocol-version") != "2.0.0":
        raise illegal("This resource is read with Rest.li protocol 2.0.0 only.")


async def _faults(state: SandboxState, username: str | None) -> None:
    try:
        await apply_faults(state, username)
    except FaultError as fault:
        raise fault_error(fault) from None


def caller(
    kind: str, *, scope: str | None = None, versioned: bool = True
) -> Callable[[Request], Awaitable[SandboxUser]]:
    """Dependency of a route of `kind`: the member behind the token, after the faults they
    meet; the versioned API also wants its version headers, and a resource its scope."""

    async def current(request: Request) -> SandboxUser:
        state = sandbox_state(request)
        count_call(request, kind, None)
        try:
            if versioned:
                _version(request)
            token = _token(request)
            user = state.user_for_access_token(token)
        except SandboxError as error:
            await _faults(state, None)  # down or throttled says so first
            raise token_error(error) from None
        except LinkedInError:
            await _faults(state, None)
            raise
        count_call(request, kind, user.username)
        await _faults(state, user.username)
        if scope is not None and scope not in state.grant_holding(token).scope.split():
            raise no_permission(request.url.path.rpartition("/")[2])
        return user

    return current


def person_id(user: SandboxUser) -> str:
    """The member's id as LinkedIn writes it in a person URN and in `sub`."""
    return user.id.removeprefix("u_")


api = APIRouter(prefix="/api")
REPORTING = caller("metrics", scope="r_ads_reporting")


@api.get("/v2/userinfo")
async def userinfo(
    user: Annotated[SandboxUser, Depends(caller("me", versioned=False))],
) -> dict[str, Any]:
    """The OpenID Connect claims of the member (Sign In with LinkedIn using OpenID Connect)."""
    given, _, family = user.name.partition(" ")
    return {
        "sub": person_id(user),
        "name": user.name,
        "given_name": given,
        "family_name": family,
        "email": user.email,
        "email_verified": True,
        "locale": {"country": "US", "language": "en"},
    }


def _paging(request: Request) -> tuple[int, int]:
    try:
        start = int(request.query_params.get("start", "0"))
        count = int(request.query_params.get("count", str(DEFAULT_COUNT)))
    except ValueError:
        raise illegal("start and count must be whole numbers.") from None
    if start < 0 or count < 0:
        raise illegal("start and count cannot be negative.")
    return start, min(count, MAX_COUNT)


@api.get("/rest/adAccountUsers")
async def ad_account_users(
    request: Request, user: Annotated[SandboxUser, Depends(caller("accounts", scope="r_ads"))]
) -> dict[str, Any]:
    """The member's role on each ad account they reach, `start`/`count` at a time."""
    if request.query_params.get("q") != "authenticatedUser":
        raise illegal("Finder 'q' must be authenticatedUser for this member's roles.")
    start, count = _paging(request)
    reachable = sandbox_state(request).reachable_account_ids(user.id)
    page = reachable[start : start + count]
    elements = [
        {
            "account": f"{ACCOUNT_URN}{number}",
            "role": "ACCOUNT_BILLING_ADMIN",
            "user": f"{PERSON_URN}{person_id(user)}",
        }
        for number in page
    ]
    return {"elements": elements, "paging": {"start": start, "count": count, "links": []}}


def _list(value: str | None, what: str) -> list[str]:
    """The items of a Rest.li 2.0 `List(a,b)` (already percent-decoded)."""
    if value is None or not value.startswith("List(") or not value.endswith(")"):
        raise illegal(f"{what} must be written List(...).")
    inner = value[len("List(") : -1]
    return [item for item in inner.split(",") if item]


def _account_node(account: SandboxAccount) -> dict[str, Any]:
    return {
        "id": int(account.id) if account.id.isdigit() else account.id,
        "name": account.name,
        "currency": account.currency,
        "status": "ACTIVE",
        "type": "BUSINESS",
        "test": False,
    }


@api.get("/rest/adAccounts")
async def ad_accounts(
    request: Request, user: Annotated[SandboxUser, Depends(caller("accounts", scope="r_ads"))]
) -> dict[str, Any]:
    """A batch get: each asked account, or why it cannot be read."""
    state = sandbox_state(request)
    results: dict[str, Any] = {}
    statuses: dict[str, int] = {}
    errors: dict[str, Any] = {}
    for number in _list(request.query_params.get("ids"), "ids"):
        try:
            results[number] = _account_node(state.account_for(user.id, number))
            statuses[number] = 200
        except SandboxError:
            statuses[number] = 403
            errors[number] = no_permission("adAccounts").body()
    return {"results": results, "statuses": statuses, "errors": errors}


def _range(raw: str | None) -> tuple[date, date]:
    """A Rest.li dateRange; without an end, it runs to today (as at LinkedIn)."""
    matched = DATE_RANGE.match(raw or "")
    if matched is None:
        raise illegal("dateRange must be (start:(year:Y,month:M,day:D),end:(...)).")
    numbers = matched.groups()
    try:
        start = date(int(numbers[0]), int(numbers[1]), int(numbers[2]))
        end = datetime.now(UTC).date()
        if numbers[3] is not None:
            end = date(int(numbers[3]), int(numbers[4]), int(numbers[5]))
    except ValueError:
        raise illegal("dateRange holds a day that does not exist.") from None
    if end < start:
        raise illegal("dateRange ends before it starts.")
    return start, end


def _fields(raw: str | None) -> list[str]:
    wanted = (raw or "impressions,clicks").split(",")
    for field in wanted:
        if field not in ANALYTICS_FIELDS:
            raise illegal(f"Unknown field {field!r} for adAnalytics.")
    return wanted


@api.get("/rest/adAnalytics")
async def ad_analytics(
    request: Request, user: Annotated[SandboxUser, Depends(REPORTING)]
) -> dict[str, Any]:
    """An account's figures per day (or over the whole range), one element per day with
    delivery, as LinkedIn leaves the others out."""
    params = request.query_params
    if params.get("q") != "analytics" or params.get("pivot") != "ACCOUNT":
        raise illegal("The sandbox answers q=analytics with pivot=ACCOUNT.")
    granularity = params.get("timeGranularity")
    if granularity not in ("DAILY", "ALL"):
        raise illegal("timeGranularity must be DAILY or ALL here.")
    start, end = _range(params.get("dateRange"))
    fields = _fields(params.get("fields"))
    state = sandbox_state(request)
    accounts = []
    for urn in _list(params.get("accounts"), "accounts"):
        try:
            accounts.append(state.account_for(user.id, urn.removeprefix(ACCOUNT_URN)))
        except SandboxError:
            raise no_permission() from None
    days = served_days(start, end, state.settings.history_days)
    groups = [[d] for d in days] if granularity == "DAILY" else [days]
    elements = [
        _element(account, group, fields)
        for account in accounts
        for group in groups
        if group and any(day_metrics(account, d)["impressions"] for d in group)
    ]
    return {"elements": elements, "paging": {"start": 0, "count": 10, "links": []}}


def _element(
    account: SandboxAccount, days: Sequence[date], fields: Sequence[str]
) -> dict[str, Any]:
    figures = [day_metrics(account, day) for day in days]
    conversions = sum(f["conversions"] for f in figures)
    leads = conversions // 3
    node: dict[str, Any] = {
        "dateRange": {"start": _day(days[0]), "end": _day(days[-1])},
        "impressions": sum(f["impressions"] for f in figures),
        "clicks": sum(f["clicks"] for f in figures),
        "costInLocalCurrency": str(sum((Decimal(f["spend"]) for f in figures), Decimal(0))),
        "externalWebsiteConversions": conversions - leads,
        "oneClickLeads": leads,
        "pivotValues": [f"{ACCOUNT_URN}{account.id}"],
    }
    return {f: node[f] for f in fields}


def _day(day: date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}
