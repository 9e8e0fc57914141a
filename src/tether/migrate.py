"""Bring a database to the newest schema (Alembic, with the scripts shipped in the package)."""

from importlib.resources import files

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("tether") / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    """Run every pending migration. Call from synchronous code (Alembic runs its own loop)."""
    command.upgrade(alembic_config(database_url), "head")
