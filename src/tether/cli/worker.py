"""`tether worker`, `tether check` and `tether sync`."""

import asyncio
import signal
import uuid
from typing import Annotated

import dramatiq
import typer
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import select

from tether.cli.context import console, errors
from tether.config import Settings
from tether.health import checks
from tether.kit import logs
from tether.models import Authorization, Connection, Organization, Status
from tether.sync import service as sync_service
from tether.worker import actor, broker, runtime, scheduler


def worker(
    threads: Annotated[int | None, typer.Option(help="Worker threads (default: settings).")] = None,
    schedule: Annotated[
        bool, typer.Option(help="Also run the scheduler (only one process leads at a time).")
    ] = True,
) -> None:
    """Process background jobs from the broker in TETHER_BROKER_URL (run as many as you like)."""
    settings = Settings()
    if not settings.broker_url:
        errors.print("Set TETHER_BROKER_URL (redis://… or amqp://…) to run separate workers.")
        raise typer.Exit(1)
    logs.configure(settings.log_level)
    bound = broker.setup(settings)
    actor.declare(bound)
    runtime.configure(settings)
    running = dramatiq.Worker(bound, worker_threads=threads or settings.worker_threads)
    running.start()
    console.print(f"Worker running with {running.worker_threads} threads.", highlight=False)
    try:
        asyncio.run(_until_signalled(settings, schedule))
    finally:
        running.stop()


async def _until_signalled(settings: Settings, schedule: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if not schedule:
        await stop.wait()
        return
    async with runtime.opened(settings) as opened:
        await scheduler.run(opened.sessions, settings, stop)


def check(
    organization: Annotated[
        str | None, typer.Option("--organization", "-o", help="Only this organization.")
    ] = None,
) -> None:
    """Check every authorization now, with a progress bar, and show the statuses found."""
    settings = Settings()
    counts = asyncio.run(_check_all(settings, organization))
    table = Table("status", "authorizations")
    for status, count in sorted(counts.items()):
        table.add_row(status, str(count))
    console.print(table)


async def _check_all(settings: Settings, organization: str | None) -> dict[str, int]:
    async with runtime.opened(settings) as opened:
        async with opened.sessions() as session:
            stmt = select(Authorization.id)
            if organization:
                stmt = stmt.join(Organization).where(Organization.name == organization)
            ids: list[uuid.UUID] = list((await session.scalars(stmt)).all())
        totals: dict[str, int] = {}
        with Progress(console=console) as progress:
            bar = progress.add_task("Checking authorizations", total=len(ids))
            for start in range(0, len(ids), 50):
                batch = ids[start : start + 50]
                for status, count in (await checks.check_many(opened.health, batch)).items():
                    totals[status] = totals.get(status, 0) + count
                progress.advance(bar, len(batch))
        return totals


def sync(
    organization: Annotated[
        str | None, typer.Option("--organization", "-o", help="Only this organization.")
    ] = None,
) -> None:
    """Sync every connection's metrics now, with a progress bar, and show the outcomes."""
    settings = Settings()
    counts = asyncio.run(_sync_all(settings, organization))
    table = Table("outcome", "connections")
    for outcome, count in sorted(counts.items()):
        table.add_row(outcome, str(count))
    console.print(table)


async def _sync_all(settings: Settings, organization: str | None) -> dict[str, int]:
    async with runtime.opened(settings) as opened:
        async with opened.sessions() as session:
            stmt = select(Connection.id).where(Connection.status != Status.DISCONNECTED)
            if organization:
                stmt = stmt.join(Organization).where(Organization.name == organization)
            ids: list[uuid.UUID] = list((await session.scalars(stmt)).all())
        totals: dict[str, int] = {}
        with Progress(console=console) as progress:
            bar = progress.add_task("Syncing connections", total=len(ids))
            for start in range(0, len(ids), 20):
                batch = ids[start : start + 20]
                for outcome, count in (await sync_service.sync_many(opened.health, batch)).items():
                    totals[outcome] = totals.get(outcome, 0) + count
                progress.advance(bar, len(batch))
        return totals
