"""What every benchmark shares: the PostgreSQL server it makes its throw-away databases on, the
sandbox served from a process of its own, the `tether worker` subprocess, the Redis namespace it
leaves behind, and the CPU accounting of other processes."""

import asyncio
import base64
import contextlib
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import redis
import uvicorn
from starlette.types import ASGIApp

from tether import vault
from tether.config import Settings, async_database_url
from tether.db import create_engine, create_sessionmaker
from tether.organizations.service import create_organization

POSTGRES_ADMIN_URL = os.environ.get(
    "TETHER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
HOST = "127.0.0.1"
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
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))

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
