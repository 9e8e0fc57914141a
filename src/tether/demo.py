"""The demo organization, seeded on the embedded server's first start."""

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from tether.clients.service import add_client
from tether.organizations import repository as organizations
from tether.organizations.service import create_organization

ORGANIZATION = "Demo Agency"
ADMIN_EMAIL = "admin@demo-agency.example.com"
CLIENTS = ("Northwind Outfitters", "Blue Fjord Coffee", "Lumen Dental", "Harbor & Pine Realty")
CREDENTIALS_FILE = "demo-credentials.txt"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    email: str
    password: str = field(repr=False)
    token: str = field(repr=False)

    def as_text(self) -> str:
        return (
            f"Tether demo organization: {ORGANIZATION}\n"
            f"  admin login: {self.email}\n"
            f"  password:    {self.password}\n"
            f"  API token:   {self.token}\n"
            "  sandbox sign-in (Sandbox Ads): alice / alice-password\n"
        )


async def seed(session: AsyncSession) -> DemoLogin | None:
    """Create the demo organization once; None if it already exists."""
    if await organizations.get_by_name(session, ORGANIZATION) is not None:
        return None
    password = secrets.token_urlsafe(12)
    created = await create_organization(
        session,
        name=ORGANIZATION,
        admin_email=ADMIN_EMAIL,
        admin_name="Demo Admin",
        password=password,
    )
    for name in CLIENTS:
        await add_client(session, organization_id=created.organization.id, name=name)
    return DemoLogin(ADMIN_EMAIL, password, created.token)


def save(login: DemoLogin, data_dir: Path) -> Path:
    """Keep the demo login in the data folder, readable by its owner only."""
    path = data_dir / CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(login.as_text())
    os.chmod(path, 0o600)
    return path
