"""Requests to URLs that people type in: which targets are allowed, and a client that reaches
only those.

Whoever sets such a URL chooses where Tether's server connects. Left open, that lets them reach
what only the server can: its own loopback services, the private network behind it, a cloud's
metadata service. So a target is refused unless every address its host stands for is public:

- only `http://` and `https://` (`https://` alone when the policy says so), with a host and
  without a user name or password;
- no loopback, private, shared (carrier-grade NAT), link-local, multicast, unspecified or
  reserved address. An IPv6 address that carries an IPv4 one (`::ffff:127.0.0.1`, 6to4, NAT64)
  is judged by the IPv4 address inside. `allow_private` lets loopback, private and shared
  addresses through, for a receiver run beside Tether; link-local addresses (where cloud
  metadata services answer), multicast, unspecified and reserved ones stay refused.

Hosts are read as the system reads them: `127.1`, `2130706433`, `0x7f000001` and `0177.0.0.1`
all mean 127.0.0.1 to `getaddrinfo`, so they are resolved, not parsed by hand. `client()`
resolves the host once per connection, in its network backend, judges every address, and
connects to one of those judged addresses: a name that answers a public address first and a
private one next (DNS rebinding) gains nothing. Redirects are not followed.

Failures are told in a small fixed vocabulary (`failure_reason`): what a person needs to fix
the target, never what the target answered.
"""

import asyncio
import functools
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# How long a check of a URL waits for its host to resolve.
LOOKUP_SECONDS = 5.0

REFUSED_ADDRESS = "refused: address not allowed"
REFUSED_HTTP = "refused: https required"
REFUSED_URL = "refused: URL not allowed"
UNRESOLVED = "could not resolve host"
NOT_CONNECTED = "could not connect"
TIMED_OUT = "timed out"
TLS_FAILED = "TLS error"
BAD_ANSWER = "invalid HTTP answer"
CONNECTION_LOST = "connection lost"
INTERNAL = "internal error"
FIXED_REASONS = frozenset(
    {REFUSED_ADDRESS, REFUSED_HTTP, REFUSED_URL, UNRESOLVED, NOT_CONNECTED, TIMED_OUT,
     TLS_FAILED, BAD_ANSWER, CONNECTION_LOST, INTERNAL}
)  # fmt: skip
_ANSWERED = re.compile(r"answered [1-5]\d\d(: redirects are not followed)?")

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class Refused(Exception):
    """A target the policy does not allow. `reason` is a fixed text fit for a delivery log;
    the message says what is wrong, for the person who typed the URL."""

    def __init__(self, reason: str, message: str, *, allowable: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        # Whether `allow_private` would let this target through.
        self.allowable = allowable


class Unresolved(Exception):
    """The host stands for no address (at least not now)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """Where requests may go."""

    allow_private: bool = False
    require_https: bool = False


# Judging URLs and addresses -------------------------------------------------------------------


def check_url(url: str, policy: Policy) -> SplitResult:
    """The URL's parts, if its form is allowed (what its host stands for is judged apart)."""
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        raise Refused(REFUSED_URL, "A URL cannot hold spaces or control characters.")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(
            REFUSED_URL,
            "The URL must be an http:// or https:// address with a host, "
            "e.g. https://example.com/hooks/tether.",
        )
    if "@" in parts.netloc:
        raise Refused(REFUSED_URL, "The URL cannot carry a user name or password (user:password@).")
    if policy.require_https and parts.scheme != "https":
        raise Refused(REFUSED_HTTP, "The URL must start with https:// (Tether itself is on https).")
    return parts


async def check_target(url: str, policy: Policy) -> None:
    """Refuse a URL whose form, or any address its host resolves to now, is not allowed. A
    name that does not resolve (yet) passes: every request judges it again anyway."""
    parts = check_url(url, policy)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = _literal(host)
    where = f"{host} is"
    if addresses is None:
        where = f"{host} resolves to"
        try:
            addresses = await asyncio.wait_for(resolve(host, port), LOOKUP_SECONDS)
        except (Unresolved, TimeoutError):
            return
    for address in addresses:
        problem = address_problem(address, policy)
        if problem is not None:
            kind, allowable = problem
            raise Refused(
                REFUSED_ADDRESS,
                f"{where} {kind} address: only public addresses are allowed.",
                allowable=allowable,
            )


def address_problem(address: IPAddress, policy: Policy) -> tuple[str, bool] | None:
    """None for an allowed address; else what kind it is ("a loopback") and whether
    `allow_private` would allow it."""
    judged = _carried_ipv4(address) or address
    if judged.is_unspecified:
        return "an unspecified", False
    if judged.is_multicast:
        return "a multicast", False
    if judged.is_link_local:
        return "a link-local", False
    if judged.is_loopback:
        kind = "a loopback"
    elif judged.is_reserved:
        return "a reserved", False
    elif judged.is_private:
        kind = "a private"
    elif not judged.is_global:
        kind = "a non-public"
    else:
        return None
    return None if policy.allow_private else (kind, True)


def _carried_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: IPv4-mapped, 6to4 or well-known NAT64."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


# Resolving -------------------------------------------------------------------------------------


async def addresses_of(host: str, port: int) -> list[IPAddress]:
    """Every address `host` stands for: a literal in any spelling the system accepts, or what
    the resolver answers for a name."""
    literal = _literal(host)
    return literal if literal is not None else await resolve(host, port)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """What the system resolver answers for a name (raises Unresolved when nothing)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Unresolved(host) from None
    addresses = _addresses(infos)
    if not addresses:
        raise Unresolved(host)
    return addresses


def _literal(host: str) -> list[IPAddress] | None:
    """The address a numeric host means, read as the system reads it (`127.1` included), or
    None for a name."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return None
    return _addresses(infos) or None


def _addresses(infos: Iterable[tuple[object, ...]]) -> list[IPAddress]:
    found: dict[IPAddress, None] = {}
    for info in infos:
        sockaddr = info[4]
        if isinstance(sockaddr, tuple) and isinstance(sockaddr[0], str):
            found[ipaddress.ip_address(sockaddr[0])] = None
    return list(found)


# Sending ---------------------------------------------------------------------------------------


class _VettedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to judged addresses: the host is resolved here, once per connection, and
    the socket opened to an address of that answer, never to the name."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface passes it
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await addresses_of(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(UNRESOLVED) from None
        for address in addresses:
            problem = address_problem(address, self._policy)
            if problem is not None:
                raise Refused(REFUSED_ADDRESS, f"{host} stands for {problem[0]} address.")
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as error:
                failure = error  # try the next address, as the system's own connect would
        raise failure or httpcore.ConnectError(NOT_CONNECTED)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface passes it
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise Refused(REFUSED_URL, "Unix sockets are not a target.")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _VettedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its error mapping, its streams) over a pool whose connections
    are opened by the vetting backend."""

    def __init__(self, policy: Policy) -> None:
        super().__init__(verify=_ssl_context(), trust_env=False)
        # The pool httpx built is replaced; if httpx ever stops keeping it here, fail loudly
        # rather than send through a pool that connects anywhere.
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("httpx's transport no longer keeps its pool in `_pool`.")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_VettedBackend(policy),
        )


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes a while: once per process.
    return httpx.create_ssl_context()


def client(policy: Policy, *, timeout: float, headers: dict[str, str]) -> httpx.AsyncClient:
    """An HTTP client that reaches only targets `policy` allows, and follows no redirect."""
    return httpx.AsyncClient(
        transport=_VettedTransport(policy),
        timeout=timeout,
        headers=headers,
        follow_redirects=False,
        trust_env=False,
    )


# Telling what happened -------------------------------------------------------------------------


def answered(status_code: int) -> str:
    """The fixed reason for an answer that is not a success."""
    if 300 <= status_code < 400:
        return f"answered {status_code}: redirects are not followed"
    return f"answered {status_code}"


def failure_reason(error: BaseException) -> str:
    """The fixed reason for a request that got no answer. The error's own text never leaves:
    it can quote whatever the target sent (a service's banner, say)."""
    if isinstance(error, Refused):
        return error.reason
    if isinstance(error, Unresolved):
        return UNRESOLVED
    if isinstance(error, TimeoutError | httpx.TimeoutException):
        return TIMED_OUT
    if _caused_by(error, ssl.SSLError):
        return TLS_FAILED
    if isinstance(error, httpx.ConnectError):
        return NOT_CONNECTED
    if isinstance(error, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return REFUSED_URL
    if isinstance(error, httpx.RemoteProtocolError):
        return BAD_ANSWER
    if isinstance(error, httpx.TransportError):
        return CONNECTION_LOST
    return INTERNAL


def is_fixed_reason(text: str) -> bool:
    """Whether `text` is one of the fixed reasons (older records may hold other texts)."""
    return text in FIXED_REASONS or _ANSWERED.fullmatch(text) is not None


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
