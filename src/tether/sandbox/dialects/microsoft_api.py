"""Microsoft Advertising's API in the sandbox (Bing Ads API v13 over REST): its faults, the ids
Microsoft gives users, customers and accounts, the caller of a call with the faults they meet,
and the Customer Management service's `User/Query` and `Accounts/Search`.

The sandbox's world has accounts, not customers: an account belongs to the customer named
before the " — " in its name ("Northwind Outfitters — Search" belongs to "Northwind
Outfitters"). Accounts keep the sandbox's own ids; users and customers get numeric ids derived
from the sandbox's, the same in every world. Ids are int64 written as JSON strings, as in
Microsoft's REST answers.
"""

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tether.sandbox.faults import FaultError, apply_faults, count_call, sandbox_state
from tether.sandbox.state import SandboxAccount, SandboxError, SandboxState, SandboxUser

INVALID_CREDENTIALS = (
    "Authentication failed. Either supplied credentials are invalid or the account is inactive"
)
TOKEN_EXPIRED = "Authentication token expired. Please renew it or obtain a new token."
NOT_AUTHORIZED = "The user is not authorized to perform this action."
CALL_RATE_EXCEEDED = (
    "You have exceeded the number of calls that you are allowed to make in a minute. Please "
    "reduce the number of calls that you make per minute."
)
INTERNAL_ERROR = "An internal error has occurred."
MISSING_HEADERS = "One or more required header elements are missing from the request."
NULL_REQUEST = "The request message is null."
# Customer Management's search limits (paging.md, predicate.md).
MAX_PAGE_SIZE = 1000
MIN_PREDICATE_LENGTH = 4
SUPER_ADMIN = 41
UPDATED = "2026-01-15T12:00:00.000"


class AdsFault(Exception):
    """A refusal as Microsoft Advertising writes it: an `ApplicationFault` whose `Type` says
    its shape. `AdApiFaultDetail` (authentication, throttling, internal errors, on every
    service) holds `Errors`; an operation's own refusal is an `ApiFault` (Customer Management,
    without `ErrorCode`) or an `ApiFaultDetail` (Reporting) holding `OperationErrors`."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        error_code: str | None = None,
        kind: str = "AdApiFaultDetail",
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.error_code, self.kind, self.details = error_code, kind, details

    def body(self, tracking_id: str) -> dict[str, Any]:
        if self.kind == "AdApiFaultDetail":
            error = {"Code": self.code, "Detail": self.details, "ErrorCode": self.error_code}
            error["Message"] = self.message
            return {"TrackingId": tracking_id, "Type": self.kind, "Errors": [error]}
        operation: dict[str, Any] = {"Code": self.code, "Details": self.details}
        operation["Message"] = self.message
        if self.kind == "ApiFault":
            return {"TrackingId": tracking_id, "Type": self.kind, "OperationErrors": [operation]}
        operation["ErrorCode"] = self.error_code
        return {
            "TrackingId": tracking_id,
            "Type": self.kind,
            "BatchErrors": [],
            "OperationErrors": [operation],
        }

    def response(self) -> JSONResponse:
        tracking_id = str(uuid.uuid4())
        # The tracking id is a response header too (response-header.md).
        headers = {"TrackingId": tracking_id}
        return JSONResponse(self.body(tracking_id), status_code=self.status, headers=headers)


def invalid_credentials() -> AdsFault:
    return AdsFault(401, 105, INVALID_CREDENTIALS, error_code="InvalidCredentials")


def token_expired() -> AdsFault:
    return AdsFault(401, 109, TOKEN_EXPIRED, error_code="AuthenticationTokenExpired")


def not_authorized() -> AdsFault:
    """An entity (an account) the user cannot reach (the guide's example: SubmitGenerateReport
    for an account the user has no permission on)."""
    return AdsFault(403, 106, NOT_AUTHORIZED, error_code="UserIsNotAuthorized")


def missing_header(name: str) -> AdsFault:
    return AdsFault(
        400, 116, MISSING_HEADERS, error_code="RequestMissingHeaders", details=f"{name} is missing."
    )


def null_request() -> AdsFault:
    return AdsFault(400, 100, NULL_REQUEST, error_code="NullRequest")


def customer_fault(code: int, message: str) -> AdsFault:
    """A Customer Management operation's refusal (an `ApiFault`: no symbolic code)."""
    return AdsFault(400, code, message, kind="ApiFault")


def fault_error(fault: FaultError) -> AdsFault:
    """A sandbox switch as Microsoft Advertising answers it: 117 CallRateExceeded when throttled
    (Microsoft names no wait in the answer; its guide says to wait 60 seconds), else the
    internal error 0."""
    if fault.code == "rate_limited":
        return AdsFault(429, 117, CALL_RATE_EXCEEDED, error_code="CallRateExceeded")
    return AdsFault(500, 0, INTERNAL_ERROR, error_code="InternalError")


# -- ids --------------------------------------------------------------------------------------


def _number(text: str, digits: int) -> str:
    value = int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)
    return str(10 ** (digits - 1) + value % (9 * 10 ** (digits - 1)))


def user_id(user: SandboxUser) -> str:
    """Microsoft Advertising's id of a sandbox user, the same in every world."""
    return _number(f"microsoft-user:{user.id}", 9)


def customer_name(account: SandboxAccount) -> str:
    """The customer an account belongs to: its name up to " — "."""
    return account.name.partition(" — ")[0].strip() or account.name


def customer_id(account: SandboxAccount) -> str:
    return _number(f"microsoft-customer:{customer_name(account)}", 9)


def account_number(account: SandboxAccount) -> str:
    """The account number people see in the web application (eight characters), which the API
    never takes in place of the id."""
    return "F" + _number(f"microsoft-number:{account.id}", 7)


def accounts_of(state: SandboxState, user: SandboxUser) -> list[SandboxAccount]:
    return [state.accounts[n] for n in state.reachable_account_ids(user.id)]


# -- who calls, and the faults they meet ----------------------------------------------------


@dataclass(frozen=True)
class Caller:
    user: SandboxUser
    headers: Mapping[str, str]


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def token_fault(error: SandboxError) -> AdsFault:
    """A token the API does not honour. Microsoft's access tokens are self-contained: one whose
    grant was revoked (or whose user changed password) is refused when it ends, as expired;
    the sandbox refuses it at once in those words, and the refresh says why. A token Microsoft
    never issued is invalid credentials."""
    return invalid_credentials() if error.code == "invalid_token" else token_expired()


async def _faults(state: SandboxState, username: str | None) -> None:
    try:
        await apply_faults(state, username)
    except FaultError as fault:
        raise fault_error(fault) from None


def caller(kind: str, *needed: str) -> Callable[[Request], Awaitable[Caller]]:
    """Dependency of a route of `kind` that needs these headers besides the token and the
    developer token: the caller, counted, after the faults they meet (down or throttled says
    so before a bad token does)."""

    async def current(request: Request) -> Caller:
        state = sandbox_state(request)
        count_call(request, kind, None)
        token = _bearer(request)
        try:
            if token is None:
                raise SandboxError("invalid_token", "No bearer token.")
            user = state.user_for_access_token(token)
        except SandboxError as error:
            await _faults(state, None)
            raise token_fault(error) from None
        count_call(request, kind, user.username)
        await _faults(state, user.username)
        for name in ("DeveloperToken", *needed):
            if not request.headers.get(name, "").strip():
                raise missing_header(name)
        return Caller(user, request.headers)

    return current


async def body_of(request: Request) -> dict[str, Any]:
    """The JSON body of a request; anything else is a null request."""
    try:
        body = await request.json()
    except ValueError:
        raise null_request() from None
    if not isinstance(body, dict):
        raise null_request()
    return body


# -- Customer Management --------------------------------------------------------------------

clientcenter = APIRouter(prefix="/clientcenter/CustomerManagement/v13")


def _user_node(user: SandboxUser, customers: Sequence[str]) -> dict[str, Any]:
    first, _, last = user.name.partition(" ")
    return {
        "ContactInfo": {"Email": user.email, "EmailFormat": "Html", "Phone1": None},
        "CustomerId": customers[0] if customers else None,
        "Id": user_id(user),
        "JobTitle": None,
        "LastModifiedByUserId": user_id(user),
        "LastModifiedTime": UPDATED,
        "Lcid": "EnglishUS",
        "Name": {"FirstName": first, "LastName": last or None, "MiddleInitial": None},
        "TimeStamp": None,
        "UserLifeCycleStatus": "Active",
        "UserName": user.email,
    }


@clientcenter.post("/User/Query")
async def get_user(
    request: Request, who: Annotated[Caller, Depends(caller("me"))]
) -> dict[str, Any]:
    """GetUser: the signed-in user (no `UserId`, or their own) and a role per customer."""
    wanted = (await body_of(request)).get("UserId")
    if wanted not in (None, user_id(who.user)):
        raise not_authorized()
    customers = list(
        dict.fromkeys(customer_id(a) for a in accounts_of(sandbox_state(request), who.user))
    )
    roles = [
        {
            "AccountIds": None,
            "CustomerId": customer,
            "CustomerLinkPermission": None,
            "LinkedAccountIds": None,
            "RoleId": SUPER_ADMIN,
        }
        for customer in customers
    ]
    return {"User": _user_node(who.user, customers), "CustomerRoles": roles}


def account_node(account: SandboxAccount, owner: SandboxUser) -> dict[str, Any]:
    customer = customer_id(account)
    return {
        "AccountFinancialStatus": "ClearFinancialStatus",
        "AccountLifeCycleStatus": "Active",
        "AccountMode": "Expert",
        "BillToCustomerId": customer,
        "CurrencyCode": account.currency,
        "ForwardCompatibilityMap": [],
        "Id": account.id,
        "Language": "English",
        "LastModifiedByUserId": user_id(owner),
        "LastModifiedTime": UPDATED,
        "LinkedAgencies": [],
        "Name": account.name,
        "Number": account_number(account),
        "ParentCustomerId": customer,
        "PauseReason": None,
        "PaymentMethodType": "Invoice",
        "PrimaryUserId": user_id(owner),
        "TimeZone": "PacificTimeUSCanadaTijuana",
    }


def _predicate(body: Mapping[str, Any]) -> tuple[str, str]:
    predicates = body.get("Predicates")
    if not isinstance(predicates, list) or not predicates:
        raise customer_fault(474, "Required search predicate is missing.")
    found = predicates[0]
    if len(predicates) != 1 or not isinstance(found, dict) or found.get("Operator") != "Equals":
        raise customer_fault(3030, "The Predicate passed in the search is invalid.")
    field, value = found.get("Field"), str(found.get("Value") or "")
    if field not in ("UserId", "CustomerId", "AccountId") or len(value) < MIN_PREDICATE_LENGTH:
        raise customer_fault(3030, "The Predicate passed in the search is invalid.")
    return str(field), value


def _page(body: Mapping[str, Any]) -> tuple[int, int]:
    info = body.get("PageInfo")
    index = info.get("Index") if isinstance(info, dict) else None
    size = info.get("Size", 0) if isinstance(info, dict) else None
    if not isinstance(index, int) or not isinstance(size, int) or index < 0 or size < 0:
        raise customer_fault(
            3080, "Page Info must be present and have index greater than 0 (zero)."
        )
    if size > MAX_PAGE_SIZE:
        raise customer_fault(3024, "The batch size exceeds the limit.")
    return index, size


def _matching(
    state: SandboxState, user: SandboxUser, field: str, value: str
) -> list[SandboxAccount]:
    """The accounts the user reaches that the predicate names (another user's: none seen)."""
    reached = accounts_of(state, user)
    if field == "UserId":
        return reached if value == user_id(user) else []
    if field == "CustomerId":
        return [a for a in reached if customer_id(a) == value]
    return [a for a in reached if a.id == value]


@clientcenter.post("/Accounts/Search")
async def search_accounts(
    request: Request, who: Annotated[Caller, Depends(caller("accounts"))]
) -> dict[str, Any]:
    """SearchAccounts: one page of the accounts a predicate names, in the order of their ids."""
    body = await body_of(request)
    field, value = _predicate(body)
    index, size = _page(body)
    found = _matching(sandbox_state(request), who.user, field, value)
    page = found[index * size : (index + 1) * size]
    return {"Accounts": [account_node(a, who.user) for a in page]}
