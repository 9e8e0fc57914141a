"""`tether worker`, `tether check` and `tether sync`."""

import asyncio
import os
import signal
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated

import dramatiq
import typer
import uvicorn
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from tether import jobs, probes, runtime
from tether.cli.context import (
    check_providers_file,
    checked_settings,
    console,
    errors,
    schema_ready,
)
from tether.config import Settings
from tether.health import checks
from tether.health import repository as health_repository
from tether.kit import logs
from tether.kit.serving import KEEP_ALIVE_SECONDS
from tether.sync import repository as sync_repository
from tether.sync import service as sync_service
from tether.worker import actor, broker, scheduler


def worker(
    threads: Annotated[int | None, typer.Option(help="Worker threads (default: settings).")] = None,
    schedule: Annotated[
        bool, typer.Option(help="Also run the scheduler (only one process leads at a time).")
    ] = True,
) -> None:
    """Process background jobs from the broker in TETHER_BROKER_URL (run as many as you like)."""
    settings = checked_settings()
    check_providers_file(settings)
    if not settings.broker_url:
        errors.print("Set TETHER_BROKER_URL (redis://… or amqp://…) to run separate workers.")
        raise typer.Exit(1)
    if settings.env == "production":
        schema_ready(settings)
    logs.configure(settings.log_level)
    probe_socket = _probe_socket(settings)
    bound = broker.setup(settings)
    jobs.load()
    actor.declare(bound)
    runtime.configure(settings)
    running = dramatiq.Worker(bound, worker_threads=threads or settings.worker_threads)
    running.start()
    console.print(f"Worker running with {running.worker_threads} threads.", highlight=False)
    try:
        asyncio.run(_until_signalled(settings, schedule, probe_socket))
    finally:
        running.stop()


async def _until_signalled(settings: Settings, schedule: bool, probe_socket: socket.socket) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with runtime.opened(settings) as opened, _probes_served(opened, probe_socket):
        if schedule:
            await scheduler.run(opened.sessions, settings, stop)
        else:
            await stop.wait()


class _ProbeServer(uvicorn.Server):
    """Served inside the worker's own loop, which handles SIGINT and SIGTERM itself."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _probe_socket(settings: Settings) -> socket.socket:
    """The port of the worker's probes, taken before any job runs, so that a port in use stops
    the worker with a sentence naming it."""
    host = settings.worker_host or settings.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, settings.worker_port), family=family)
    except OSError as error:
        errors.print(
            f"Cannot serve the worker's probes and metrics on {host}:{settings.worker_port} "
            f"({os.strerror(error.errno) if error.errno else error}): set TETHER_WORKER_PORT "
            "or TETHER_WORKER_HOST."
        )
        raise typer.Exit(1) from None


@asynccontextmanager
async def _probes_served(opened: runtime.Runtime, sock: socket.socket) -> AsyncIterator[None]:
    """/livez, /readyz and /metrics on TETHER_WORKER_PORT for as long as the worker runs."""
    config = uvicorn.Config(
        probes.worker_app(opened),
        log_config=None,
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    server = _ProbeServer(config)
    # The socket already listens: a probe that comes before uvicorn is ready waits in its queue.
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    host, port = sock.getsockname()[:2]
    console.print(f"Probes and metrics on http://{host}:{port}.", highlight=False)
    try:
        yield
    finally:
        server.should_exit = True
        await serving


def check(
    organization: Annotated[
        str | None, typer.Option("--organization", "-o", help="Only this organization.")
    ] = None,
) -> None:
    """Check every authorization now, with a progress bar, and show the statuses found."""
    counts = asyncio.run(
        _with_progress(
            "Checking authorizations",
            lambda session: health_repository.authorization_ids(session, organization),
            50,
            lambda rt, ids: checks.check_many(rt.health, ids),
        )
    )
    _print_counts("status", "authorizations", counts)


def sync(
    organization: Annotated[
        str | None, typer.Option("--organization", "-o", help="Only this organization.")
    ] = None,
) -> None:
    """Sync every connection's metrics now, with a progress bar, and show the outcomes."""
    counts = asyncio.run(
        _with_progress(
            "Syncing connections",
            lambda session: sync_repository.connection_ids(session, organization),
            20,
            lambda rt, ids: sync_service.sync_many(rt.health, ids),
        )
    )
    _print_counts("outcome", "connections", counts)


async def _with_progress(
    label: str,
    find: Callable[[AsyncSession], Awaitable[list[uuid.UUID]]],
    batch: int,
    run: Callable[[runtime.Runtime, list[uuid.UUID]], Awaitable[Mapping[str, int]]],
) -> Counter[str]:
    """Run `run` over the ids `find` finds, a batch at a time, behind a progress bar."""
    settings = Settings()
    check_providers_file(settings)
    async with runtime.opened(settings) as opened:
        async with opened.sessions() as session:
            ids = await find(session)
        totals: Counter[str] = Counter()
        with Progress(console=console) as progress:
            bar = progress.add_task(label, total=len(ids))
            for start in range(0, len(ids), batch):
                chunk = ids[start : start + batch]
                totals.update(await run(opened, chunk))
                progress.advance(bar, len(chunk))
        return totals


def _print_counts(what: str, of: str, counts: Mapping[str, int]) -> None:
    table = Table(what, of)
    for key, count in sorted(counts.items()):
        table.add_row(key, str(count))
    console.print(table)
