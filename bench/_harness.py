"""What every benchmark shares: the PostgreSQL server it makes its throw-away databases on, the
sandbox served from a process of its own, the `tether worker` subprocess, the Redis namespace it
leaves behind, and the CPU accounting of other processes; and, for the benchmarks that compare
Tether with a bare client, the providers they can run through (`THROUGH`: the sandbox's own
API, or its Google Ads and Meta dialects) and the log of what the sandbox was sent."""

import asyncio
import base64
import contextlib
import hashlib
import json
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import asyncpg
import httpx
import redis
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether import vault
from tether.config import Settings, async_database_url
from tether.db import create_engine, create_sessionmaker
from tether.kit.serving import KEEP_ALIVE_SECONDS
from tether.organizations.service import create_organization
from tether.providers import google_ads, meta_ads
from tether.providers.definition import ProviderDefinition
from tether.providers.registry import SANDBOX_DEVELOPER_TOKEN
from tether.sandbox.tokens import TokenRules

POSTGRES_ADMIN_URL = os.environ.get(
    "TETHER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
HOST = "127.0.0.1"
# Seconds: no second check and no account listing during a run (the longest interval Tether
# takes for either).
QUIET = 604_800
T = TypeVar("T")


async def _admin(*statements: str) -> None:
    """Run statements (CREATE/DROP DATABASE) on the admin database, outside a transaction."""
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def retrying(make: Callable[[], Awaitable[T]], seconds: float = 60.0) -> T:
    """Try again while PostgreSQL has no connection to spare (it is shared with others)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await make()
        except asyncpg.TooManyConnectionsError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1.0)


def database_urls(name: str) -> tuple[str, str]:
    """The plain (asyncpg) URL of database `name` on the admin server, and its SQLAlchemy URL."""
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    plain_url = f"{base}/{name}"
    return plain_url, async_database_url(plain_url)


def new_keyring() -> str:
    """A fresh TETHER_SECRET_KEYS value, loaded as this process's key ring."""
    secret_keys = "b1:" + base64.b64encode(os.urandom(32)).decode()
    vault.load_keyring(Settings(secret_keys=secret_keys))
    return secret_keys


@contextlib.contextmanager
def throwaway_database(name: str, *, retry_drop: bool = False) -> Iterator[None]:
    """Database `name`, created empty (dropped first if a previous run left it) and dropped
    (WITH (FORCE)) on the way out; `retry_drop` waits for a free connection to drop it."""
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    asyncio.run(_admin(drop, f'CREATE DATABASE "{name}"'))
    try:
        yield
    finally:
        if retry_drop:
            asyncio.run(retrying(lambda: _admin(drop)))
        else:
            asyncio.run(_admin(drop))


@dataclass(frozen=True)
class BenchAdmin:
    organization_id: uuid.UUID
    member_id: uuid.UUID
    token: str = field(repr=False)


async def create_admin(url: str) -> BenchAdmin:
    """The benchmark's organization and its admin, through the service layer: their ids and
    the admin's API token."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            admin = await create_organization(
                session,
                name="Benchmark Agency",
                admin_email="admin@benchmark.example",
                admin_name="Benchmark Admin",
                password=None,
            )
            await session.commit()
        return BenchAdmin(admin.organization.id, admin.member.id, admin.token)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------------------------
# CPU accounting of other processes.


def read_cpu_seconds(pid: int) -> float | None:
    """User and system CPU time a process used so far (Linux /proc; None where unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """As `read_cpu_seconds`, with 0 where unreadable."""
    seconds = read_cpu_seconds(pid)
    return 0.0 if seconds is None else seconds


# ---------------------------------------------------------------------------------------------
# The sandbox in a process of its own (multiprocessing spawn), so that it shares the GIL with
# neither the benchmark nor the worker. The child builds its state, sends what the parent needs
# over the pipe, then `serve_until_told`; the parent holds it in `sandbox_in_process`.


def serve_until_told(
    pipe: Connection, app: ASGIApp, obey: Callable[[Any], bool] | None = None
) -> None:
    """In the sandbox's process: serve `app` on a free loopback port, send the port over `pipe`,
    and serve until a message comes that `obey` (given each message) does not take, or the
    parent goes away. Without `obey`, any message stops the server."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_keep_alive=KEEP_ALIVE_SECONDS
    )
    server = uvicorn.Server(config)

    def stop_when_told() -> None:
        with contextlib.suppress(EOFError, OSError):
            while True:
                message = pipe.recv()
                if obey is None or not obey(message):
                    break
        server.should_exit = True

    threading.Thread(target=stop_when_told, daemon=True).start()
    pipe.send(sock.getsockname()[1])
    server.run(sockets=[sock])


@dataclass
class SandboxProcess:
    """A sandbox serving from its own process: its URL, pid, what it sent before its port, and
    the parent's end of the pipe."""

    url: str
    pid: int
    sent: list[Any]
    pipe: Connection


@contextlib.contextmanager
def sandbox_in_process(
    target: Callable[..., None], args: tuple[Any, ...], *, bringing: str, messages: int = 0
) -> Iterator[SandboxProcess]:
    """Run `target(pipe, *args)` in a spawned process, take the `messages` it sends before its
    port, and wait until its /control/state answers (up to 300 s for it to come up with
    `bringing`, then 30 s). On the way out: "stop" over the pipe, join, terminate if need be."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=target, args=(theirs, *args), name="sandbox", daemon=True)
    process.start()
    try:
        if not ours.poll(300):
            raise RuntimeError(f"The sandbox process did not come up with {bringing}.")
        sent = [ours.recv() for _ in range(messages)]
        url = f"http://{HOST}:{ours.recv()}"
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/control/state", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline or not process.is_alive():
                raise RuntimeError("The sandbox process did not start serving.")
            time.sleep(0.05)
        assert process.pid is not None  # started above
        yield SandboxProcess(url, process.pid, sent, ours)
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        process.join(15)
        if process.is_alive():
            process.terminate()
            process.join(5)


# ---------------------------------------------------------------------------------------------
# The worker: `tether worker` as a subprocess, and the Redis keys of its broker namespace.


def worker_command() -> list[str]:
    """The command line of `tether worker` from this virtual environment."""
    script = Path(sys.executable).with_name("tether")
    if script.exists():
        return [str(script), "worker"]
    return [sys.executable, "-c", "from tether.cli.main import app; app()", "worker"]


def worker_base_env(
    *, folder: Path, url: str, secret_keys: str, redis_url: str, namespace: str, sandbox_url: str
) -> dict[str, str]:
    """This process's environment without any TETHER_ setting, plus what every benchmark's
    worker needs: its data folder, database, key ring, broker (URL and namespace) and sandbox."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TETHER_")},
        "TETHER_DATA_DIR": str(folder),
        "TETHER_DATABASE_URL": url,
        "TETHER_SECRET_KEYS": secret_keys,
        "TETHER_BROKER_URL": redis_url,
        "TETHER_BROKER_NAMESPACE": namespace,
        "TETHER_SANDBOX_URL": sandbox_url,
        # Several workers on this machine: each answers its probes on a free port of its own.
        "TETHER_WORKER_PORT": "0",
    }


def stop_process(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    """Send `sig` to a process still running and wait for it (20 s, then kill)."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def clear_redis(redis_url: str, pattern: str) -> None:
    """Delete the keys matching `pattern` (a broker namespace's) on the Redis at `redis_url`."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(pattern, count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# The provider a benchmark runs through: the sandbox's own API, or a platform's dialect, the
# sandbox standing in for that platform (TETHER_SANDBOX_STANDS_IN_FOR). For each: how the fleet
# is written (provider key, account ids, grants) and the exact requests its adapter sends for a
# probe and for a daily report, which the benchmarks' bare clients send as they are.


@dataclass(frozen=True)
class BareRequest:
    """One request as the adapter sends it; `path` from the sandbox's URL on."""

    method: str
    path: str
    headers: dict[str, str] = field(repr=False)
    params: dict[str, str] | None = None
    json: Any = None

    async def send(self, http: httpx.AsyncClient) -> httpx.Response:
        return await http.request(
            self.method, self.path, headers=self.headers, params=self.params, json=self.json
        )


@dataclass(frozen=True)
class Through:
    """A provider the benchmarks can run through."""

    key: str  # the authorizations' and connections' provider key
    title: str  # for the headline
    probe_kind: str  # what the sandbox's /control/stats counts a probe as
    probe: Callable[[str], BareRequest]  # access token -> the probe
    report: Callable[[str, str, date, date], BareRequest]  # token, account, start, end
    rows_of: Callable[[Any], list[Any]]  # the day rows of a report page
    next_page_of: Callable[[Any], str | None] = lambda body: None
    external_id: Callable[[str], str] = str  # sandbox account id -> Tether's external id
    grant_rules: TokenRules | None = None  # see tests/fixtures/fleet.py's mint_grant
    page_size: int | None = None  # days per report page, when the report pages

    @property
    def stands_in(self) -> bool:
        return self.key != "sandbox"

    def worker_env(self) -> dict[str, str]:
        """The worker's settings for this provider (the sandbox standing in for it)."""
        return {"TETHER_SANDBOX_STANDS_IN_FOR": self.key} if self.stands_in else {}

    def pages(self, days: int) -> int:
        """Report pages (calls) one account's `days` days take."""
        return -(-days // self.page_size) if self.page_size else 1


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _sandbox_report(token: str, account: str, start: date, end: date) -> BareRequest:
    return BareRequest(
        "GET",
        f"/api/v1/accounts/{quote(account, safe='')}/metrics",
        _bearer(token),
        params={"start": start.isoformat(), "end": end.isoformat()},
    )


def _dialect_bases(definition: ProviderDefinition) -> dict[str, str]:
    """The definition's bases in the sandbox's dialect, as `registry.resolve_bases` makes them."""
    return {name: f"/{definition.dialect}/{name}" for name in definition.bases}


_ADS_BASES = _dialect_bases(google_ads.GOOGLE_ADS)
_META_BASES = _dialect_bases(meta_ads.META_ADS)


def _google_headers(token: str) -> dict[str, str]:
    # No login-customer-id: the fleet's accounts are reached directly, not through a manager.
    return {"developer-token": SANDBOX_DEVELOPER_TOKEN, **_bearer(token)}


def _google_probe(token: str) -> BareRequest:
    assert google_ads.GOOGLE_ADS.probe_url is not None
    return BareRequest(
        "GET", google_ads.GOOGLE_ADS.probe_url.format_map(_ADS_BASES), _google_headers(token)
    )


def _google_report(token: str, customer: str, start: date, end: date) -> BareRequest:
    query = google_ads.REPORT_QUERY.format(start=start.isoformat(), end=end.isoformat())
    api = f"{_ADS_BASES['ads']}/{google_ads.API_VERSION}"
    path = f"{api}/customers/{quote(customer, safe='')}/googleAds:searchStream"
    return BareRequest("POST", path, _google_headers(token), json={"query": query})


def _meta_probe(token: str) -> BareRequest:
    assert meta_ads.META_ADS.probe_url is not None
    return BareRequest("GET", meta_ads.META_ADS.probe_url.format_map(_META_BASES), _bearer(token))


def _meta_report(token: str, act: str, start: date, end: date) -> BareRequest:
    path = meta_ads.GRAPH.format_map(_META_BASES) + f"/{quote(act, safe='')}/insights"
    return BareRequest("GET", path, _bearer(token), params=meta_ads.insights_params(start, end))


THROUGH = {
    "sandbox": Through(
        key="sandbox",
        title="the sandbox's own API (/api/v1)",
        probe_kind="me",
        probe=lambda token: BareRequest("GET", "/api/v1/me", _bearer(token)),
        report=_sandbox_report,
        rows_of=lambda body: list(body["days"]),
    ),
    "google_ads": Through(
        key="google_ads",
        title=f"the Google Ads dialect (/google/ads/{google_ads.API_VERSION})",
        probe_kind="accounts",  # listAccessibleCustomers
        probe=_google_probe,
        report=_google_report,
        rows_of=lambda body: [row for batch in body for row in batch.get("results", ())],
    ),
    "meta_ads": Through(
        key="meta_ads",
        title=f"the Meta dialect (/meta/graph/{meta_ads.GRAPH_VERSION})",
        probe_kind="accounts",  # /me/adaccounts
        probe=_meta_probe,
        report=_meta_report,
        rows_of=lambda body: list(body.get("data", ())),
        next_page_of=lambda body: (body.get("paging") or {}).get("next"),
        external_id=lambda account_id: f"act_{account_id}",
        grant_rules=TokenRules(meta_ads.LONG_LIVED_SECONDS, refreshable=False),  # as Meta's
        page_size=int(meta_ads.INSIGHTS_PAGE_SIZE),
    ),
}


# ---------------------------------------------------------------------------------------------
# What the sandbox was sent, request by request: around the sandbox's app, `RequestLog` counts
# requests by shape (method, path with its ids replaced, query, headers other than the token
# and the client's defaults, body digest, status), so that a benchmark can check that the bare
# client and Tether sent the same requests. The control API (the benchmark's own readings) is
# left out. GET /bench/requests reads it, DELETE clears it.

REQUEST_LOG_PATH = "/bench/requests"
# Headers left out of a shape: the same from any httpx client, or the token's own value.
_DEFAULT_HEADERS = frozenset(
    {b"host", b"user-agent", b"accept", b"accept-encoding", b"connection", b"content-length"}
)
_ACCOUNT_ID = re.compile(r"^(act_)?\d+$")


def _shape_of_path(path: str) -> str:
    return "/".join(
        (m.group(1) or "") + "{id}" if (m := _ACCOUNT_ID.match(part)) else part
        for part in path.split("/")
    )


class RequestLog:
    """The sandbox app with its requests counted by shape."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.shapes: Counter[tuple[str, str, str, int]] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == REQUEST_LOG_PATH:
            await self._answer(scope, send)
            return
        if scope["path"].startswith("/control/"):  # the benchmark's own readings
            await self.app(scope, receive, send)
            return
        query = scope["query_string"].decode("latin-1")
        request = f"{scope['method']} {_shape_of_path(scope['path'])}" + (
            f"?{query}" if query else ""
        )
        headers = "; ".join(
            sorted(
                f"{name.decode('latin-1')}: "
                + ("Bearer …" if name == b"authorization" else value.decode("latin-1"))
                for name, value in scope["headers"]
                if name not in _DEFAULT_HEADERS
            )
        )
        digest = hashlib.sha256()
        size = 0

        async def reading() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                digest.update(body)
                size += len(body)
            return message

        async def answering(message: Message) -> None:
            if message["type"] == "http.response.start":
                body = f"{size} bytes, sha256 {digest.hexdigest()[:12]}" if size else ""
                self.shapes[request, headers, body, message["status"]] += 1
            await send(message)

        await self.app(scope, reading, answering)

    async def _answer(self, scope: Scope, send: Send) -> None:
        if scope["method"] == "DELETE":
            self.shapes.clear()
        listed = [
            {"request": r, "headers": h, "body": b, "status": s, "count": n}
            for (r, h, b, s), n in sorted(self.shapes.items())
        ]
        payload = json.dumps(listed).encode()
        start: Message = {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
        await send(start)
        await send({"type": "http.response.body", "body": payload})


@dataclass(frozen=True)
class Shape:
    """Requests of one shape the sandbox answered, and how many."""

    request: str
    headers: str
    body: str
    status: int
    count: int

    def __str__(self) -> str:
        body = f", body {self.body}" if self.body else ""
        return f"{self.count:,} x {self.request} [{self.headers}{body}] -> {self.status}"


def reset_requests(base: str) -> None:
    httpx.delete(f"{base}{REQUEST_LOG_PATH}", timeout=30).raise_for_status()


def read_requests(base: str) -> list[Shape]:
    return [Shape(**item) for item in httpx.get(f"{base}{REQUEST_LOG_PATH}", timeout=60).json()]


def request_problems(engine: list[Shape], bare: list[Shape]) -> list[str]:
    """What differs between the requests Tether sent and the bare client's."""
    if engine == bare:
        return []
    return [
        "Tether's requests differ from the bare client's:",
        *(f"  Tether: {s}" for s in engine),
        *(f"  bare:   {s}" for s in bare),
    ]
