"""The `tether` command."""

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from tether import readiness, settings_checks
from tether.cli import admin, secrets, serve, worker
from tether.cli.context import check_providers_file, checked_settings, console, run_in_session
from tether.config import Settings
from tether.db import create_engine
from tether.providers.catalog import CATALOG, info_of
from tether.providers.custom import declared

app = typer.Typer(
    help="Tether keeps your marketing data-source connections alive.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(serve.serve)
app.command()(serve.migrate)
app.command()(serve.sandbox)
app.command()(worker.worker)
app.command()(worker.check)
app.command()(worker.sync)
app.add_typer(admin.app, name="admin")
app.add_typer(admin.clients_app, name="clients")
app.add_typer(admin.connections_app, name="connections")
app.add_typer(secrets.app, name="secrets")


@app.command()
def providers() -> None:
    """List the provider catalog, with the providers declared in TETHER_PROVIDERS_FILE."""
    settings = Settings()
    check_providers_file(settings)
    table = Table("key", "name", "auth kind", "email grouping")
    for info in CATALOG + tuple(info_of(d) for d in declared(settings)):
        table.add_row(info.key, info.name, info.auth_kind.value, info.email_grouping)
    console.print(table)


@app.command()
def config() -> None:
    """Print the settings in effect, secrets masked; exit 1 naming any problem with them."""
    settings = checked_settings()
    table = Table("variable", "value")
    for variable, value in settings_checks.in_effect(settings):
        table.add_row(variable, value)
    console.print(table)


@app.command()
def health() -> None:
    """Whether this machine's Tether can run (database, schema, broker): exit 0 when ready, 1
    naming what fails. A worker's readiness probe, where there is no web port to ask."""
    settings = checked_settings()

    async def probe() -> list[readiness.Check]:
        engine = create_engine(settings.resolved_database_url, pool_size=1, max_overflow=0)
        try:
            return await readiness.checks(engine, settings, readiness.release_head())
        finally:
            await engine.dispose()

    found = asyncio.run(probe())
    for check in found:
        mark = "ok" if check.ok else "FAILS"
        console.print(f"{check.name}: {mark} ({check.detail})", highlight=False, markup=False)
    if not all(check.ok for check in found):
        raise typer.Exit(1)


@app.command()
def version(
    verbose: Annotated[bool, typer.Option(help="Also show the database in use.")] = False,
) -> None:
    """Show Tether's version."""
    console.print("tether 0.1.0")
    if verbose:
        console.print(Settings().resolved_database_url.split("@")[-1])


__all__ = ["app", "run_in_session"]
