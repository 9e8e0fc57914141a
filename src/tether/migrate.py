"""Bring a database to the newest schema (Alembic, with the scripts shipped in the package), and
tell whether a database is at this release's schema."""

import asyncio
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from tether import schema_repository
from tether.db import create_engine


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("tether") / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    """Run every pending migration. Call from synchronous code (Alembic runs its own loop)."""
    command.upgrade(alembic_config(database_url), "head")


def revisions(database_url: str) -> tuple[str | None, str]:
    """The database's schema revision (None when it has none yet) and this release's."""
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert head is not None  # the package ships its migrations
    return asyncio.run(_current(database_url)), head


async def _current(database_url: str) -> str | None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        return await schema_repository.revision(engine)
    finally:
        await engine.dispose()


def behind(database_url: str) -> str | None:
    """Why a process of this release cannot run on the database yet, or None."""
    current, head = revisions(database_url)
    if current == head:
        return None
    at = f"is at schema {current}" if current else "has no schema yet"
    return f"The database {at}; this release needs {head}. Run `tether migrate` first."
