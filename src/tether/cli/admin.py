"""`tether admin`, `tether clients`, `tether connections`: scripting an organization."""

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.cli.context import console, run_in_session
from tether.clients import service as clients
from tether.config import Settings
from tether.connections import service as connections
from tether.errors import NotFound
from tether.kit.pagination import parse_sort
from tether.kit.words import plural
from tether.members import repository as members_repository
from tether.members import service as members
from tether.models import Status
from tether.organizations import repository as organizations
from tether.organizations.service import create_admin

app = typer.Typer(help="Organizations and their admins.", no_args_is_help=True)
clients_app = typer.Typer(help="An organization's clients.", no_args_is_help=True)
connections_app = typer.Typer(help="An organization's connections.", no_args_is_help=True)

Organization = Annotated[str, typer.Option("--organization", "-o", help="The organization's name.")]


@app.command("create")
def create(
    email: Annotated[str, typer.Argument(help="The admin's email (their login).")],
    organization: Organization,
    password: Annotated[
        str | None, typer.Option(help="A password for the web app (optional).")
    ] = None,
) -> None:
    """Create an admin (and the organization if it is new) and print an API token."""

    async def work(session: AsyncSession) -> str:
        created = await create_admin(
            session, organization_name=organization, email=email, password=password
        )
        return created.token

    token = run_in_session(Settings(), work)
    # The token alone on stdout, so scripts can capture it: TOKEN=$(tether admin create ...)
    print(token)  # noqa: T201


async def _admin_actor(session: AsyncSession, organization: str) -> Actor:
    found = await organizations.get_by_name(session, organization)
    if found is None:
        raise NotFound(f"No organization called {organization!r}.")
    everyone = await members_repository.list_all(session, found.id)
    admin = next((m for m in everyone if m.role == "admin"), None)
    if admin is None:
        raise NotFound(f"{organization!r} has no admin.")
    return await members.actor_for(session, admin)


@clients_app.command("create")
def create_client(
    name: Annotated[str, typer.Argument(help="The client's name.")], organization: Organization
) -> None:
    """Add a client."""

    async def work(session: AsyncSession) -> str:
        actor = await _admin_actor(session, organization)
        return str((await clients.create_client(session, actor=actor, name=name)).id)

    print(run_in_session(Settings(), work))  # noqa: T201


@clients_app.command("list")
def list_clients(organization: Organization) -> None:
    """List clients."""

    async def work(session: AsyncSession) -> Table:
        actor = await _admin_actor(session, organization)
        rows, total = await clients.list_clients(
            session, actor=actor, search=None, limit=500, offset=0
        )
        table = Table("id", "name", title=plural(total, "client"))
        for client in rows:
            table.add_row(str(client.id), client.name)
        return table

    console.print(run_in_session(Settings(), work))


@connections_app.command("list")
def list_connections(
    organization: Organization,
    status: Annotated[Status | None, typer.Option(help="Only this status.")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    sort: Annotated[str, typer.Option(help="Sort column; '-' reverses.")] = "client_name",
    limit: Annotated[int, typer.Option(help="How many rows.")] = 50,
) -> None:
    """List connections with their status, and the counts per status."""

    async def work(session: AsyncSession) -> Table:
        actor = await _admin_actor(session, organization)
        where = connections.visible(actor, statuses=(status,) if status else (), provider=provider)
        page = await connections.list_connections(
            session, where=where, sort=parse_sort(sort, connections.SORTS, "client_name"),
            cursor=None, limit=limit,
        )  # fmt: skip
        counts = await connections.count_connections(session, where=where)
        title = ", ".join(f"{k} {v}" for k, v in counts.items())
        table = Table("client", "provider", "account", "ID", "status", "last updated", title=title)
        for c in page.items:
            updated = (
                c.last_synced_at.isoformat(timespec="minutes") if c.last_synced_at else "never"
            )
            table.add_row(
                c.client_name, c.provider, c.account_name, c.account_external_id, c.status, updated
            )
        return table

    console.print(run_in_session(Settings(), work))
