"""`tether serve`, `tether migrate`, `tether sandbox`."""

import signal
from functools import partial
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from tether import demo
from tether import migrate as migrations
from tether.cli.context import (
    check_providers_file,
    checked_settings,
    console,
    run_in_session,
    schema_ready,
)
from tether.kit import logs
from tether.kit.serving import KEEP_ALIVE_SECONDS


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Run Tether: web app, API and worker in one process (embedded: SQLite in the data folder)."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = checked_settings(**overrides)
    check_providers_file(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    schema_ready(settings)
    if settings.seed_demo:
        login = run_in_session(settings, partial(demo.seed, settings=settings))
        if login is not None:
            path = demo.save(login, settings.data_dir)
            console.print(login.as_text(), highlight=False)
            console.print(f"(Shown once; also saved to {path}, readable only by you.)")
    logs.configure(settings.log_level, settings.resolved_log_format)
    console.print(f"Tether is running at {settings.resolved_public_url}", highlight=False)
    from tether.app import create_app

    # uvicorn stops gracefully on SIGTERM, then raises the signal again for the handler it found:
    # this one makes the stop an exit 0, which process managers read as an orderly one.
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        log_level=settings.log_level,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        # The app believes X-Forwarded-* from TETHER_TRUSTED_PROXIES alone (app.py): uvicorn's
        # own rule (FORWARDED_ALLOW_IPS, loopback by default) would be a second one.
        proxy_headers=False,
        # On SIGTERM: stop accepting, let requests in flight finish, then run the lifespan's
        # shutdown (background work stopped, pools closed).
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


def _stopped(_signal: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def migrate() -> None:
    """Bring the database to the newest schema."""
    settings = checked_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.resolved_database_url)
    console.print("The database is up to date.")


def sandbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
) -> None:
    """Run the sandbox ad platform on its own."""
    from tether.sandbox import create_app

    logs.configure("info")
    uvicorn.run(
        create_app(), host=host, port=port, log_config=None, timeout_keep_alive=KEEP_ALIVE_SECONDS
    )
