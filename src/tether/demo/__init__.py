"""The demo organization, seeded on the embedded server's first start.

Its clients are the companies whose ad accounts the sandbox's demo users reach (alice, bob and
carol), so picking a client and then its account reads true. With the sandbox mounted, the demo
also starts with one lapse to repair: Lumen Skincare's account, reached only by bob, whose grant
was revoked four days ago (see `lapse.py`).
"""

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.clients.service import add_client
from tether.config import Settings
from tether.db import utcnow
from tether.demo.lapse import seed_lapse
from tether.organizations import repository as organizations
from tether.organizations.service import create_organization

ORGANIZATION = "Demo Agency"
ADMIN_EMAIL = "admin@demo-agency.example.com"
# The sandbox's demo world names its accounts "<company> — <channel>"; a test keeps the two
# lists the same.
CLIENTS = (
    "Atlas Home Insurance",
    "Brightside Language School",
    "Harbor & Pine Dental",
    "Lumen Skincare",
    "Northwind Outfitters",
    "Summit Trail Bikes",
)
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
            "  sandbox sign-ins (Sandbox Ads): alice / alice-password, bob / bob-password\n"
        )


async def seed(session: AsyncSession, settings: Settings) -> DemoLogin | None:
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
    if settings.mount_sandbox:
        admin = created.member
        actor = Actor(admin.id, admin.organization_id, admin.role, admin.email, None)
        await seed_lapse(session, actor=actor, settings=settings, now=utcnow())
    return DemoLogin(ADMIN_EMAIL, password, created.token)


def save(login: DemoLogin, data_dir: Path) -> Path:
    """Keep the demo login in the data folder, readable by its owner only."""
    path = data_dir / CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(login.as_text())
    os.chmod(path, 0o600)
    return path
