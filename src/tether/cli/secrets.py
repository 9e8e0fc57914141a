"""`tether secrets`: rotate the key ring that seals tokens and API keys."""

from typing import Annotated

import typer
from rich.table import Table

from tether import vault
from tether.cli.context import console, errors, run_in_session
from tether.config import Settings
from tether.kit.crypto import format_key, generate_key
from tether.vault import rotation

app = typer.Typer(help="Manage the keys that encrypt stored secrets.", no_args_is_help=True)


@app.command()
def rotate(
    new_key: Annotated[
        bool, typer.Option("--new-key", help="First add a new key to the embedded key file.")
    ] = False,
) -> None:
    """Re-encrypt every stored secret under the newest key."""
    settings = Settings()
    if new_key:
        if settings.secret_keys:
            errors.print(
                "Keys come from TETHER_SECRET_KEYS: put a new key first in it "
                "(`tether secrets generate-key`), then run `tether secrets rotate`."
            )
            raise typer.Exit(1)
        console.print(f"Added key {vault.add_embedded_key(settings)} to the key file.")
    moved = run_in_session(settings, rotation.rotate)
    table = Table("secret", "re-encrypted")
    for name, count in sorted(moved.items()):
        table.add_row(name, str(count))
    console.print(table)
    console.print(f"Every secret is now sealed with key {vault.keyring().newest_key_id}.")


@app.command()
def status() -> None:
    """How many stored secrets each key seals."""
    counts = run_in_session(Settings(), rotation.count_by_key)
    table = Table("key id", "secrets")
    for key_id, count in sorted(counts.items()):
        table.add_row(key_id, str(count))
    console.print(table)


@app.command("generate-key")
def generate(key_id: Annotated[str, typer.Argument(help="A short id for the key.")]) -> None:
    """Print a new key as a `TETHER_SECRET_KEYS` entry (put it first, then rotate)."""
    console.print(format_key(generate_key(key_id)), highlight=False, soft_wrap=True)
