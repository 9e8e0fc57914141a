"""What CLI commands share: settings, a database session, and the console."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from tether import migrate as migrations
from tether import settings_checks, vault
from tether.config import Settings
from tether.db import create_engine, create_sessionmaker
from tether.errors import TetherError
from tether.providers.catalog import CATALOG
from tether.providers.custom import ProviderFileError, declared
from tether.providers.registry import stand_ins_of

T = TypeVar("T")
console = Console()
errors = Console(stderr=True)


def checked_settings(**overrides: object) -> Settings:
    """The settings this process starts with, or every problem with them and exit 1."""
    try:
        return settings_checks.load(overrides=overrides)
    except settings_checks.SettingsProblem as refused:
        errors.print("Tether cannot start with these settings:", highlight=False)
        for problem in refused.problems:
            errors.print(f"  - {problem}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1) from None


def schema_ready(settings: Settings) -> None:
    """Embedded, bring the database up to date; in production never migrate, but refuse to
    run on a schema this release does not match (`tether migrate` runs once per release)."""
    if settings.env != "production":
        migrations.upgrade(settings.resolved_database_url)
        return
    why = migrations.behind(settings.resolved_database_url)
    if why is not None:
        errors.print(why, highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1)


def run_in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one unit of work in a transaction, committed if it succeeds."""

    async def main() -> T:
        vault.load_keyring(settings)
        engine = create_engine(
            settings.resolved_database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        try:
            async with create_sessionmaker(engine).begin() as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except TetherError as error:
        errors.print(f"[red]{error.message}[/red]")
        raise SystemExit(1) from None


def check_providers_file(settings: Settings) -> None:
    """Stop at once, with the file's line and field, when the operator's providers file is
    wrong, or a stand-in names no provider: before migrations, the server or a worker start."""
    try:
        custom = declared(settings)
    except ProviderFileError as error:
        errors.print("Tether cannot start: the providers file is not right.", style="red")
        for problem in error.problems:
            errors.print(problem, markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
    known = {info.key for info in CATALOG} | {d.key for d in custom}
    unknown = sorted(set(stand_ins_of(settings)) - known)
    if unknown:
        errors.print(
            f"Tether cannot start: TETHER_SANDBOX_STANDS_IN_FOR names no provider it knows: "
            f"{', '.join(unknown)}. Known: {', '.join(sorted(known))}.",
            style="red",
            markup=False,
        )
        raise SystemExit(1)
