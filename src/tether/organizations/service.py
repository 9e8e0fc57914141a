"""Organizations: the tenants. Each starts with one admin."""

import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from tether.errors import Conflict, NotFound
from tether.members import invitations
from tether.members import service as members
from tether.models import Invitation, Member, Organization, Role
from tether.organizations import repository


@dataclass(frozen=True, slots=True)
class NewAdmin:
    organization: Organization
    member: Member
    token: str = field(repr=False)


async def found_organization(
    session: AsyncSession, *, name: str, admin_email: str, admin_name: str
) -> tuple[Organization, Invitation]:
    """A new organization whose first admin is invited by email, as any member is: the answer
    is alike whether or not that address already signs in elsewhere (decision 007)."""
    organization = await _new_organization(session, name)
    invitation = invitations.add(
        session,
        organization_id=organization.id,
        email=admin_email,
        name=admin_name,
        role=Role.ADMIN,
        client_ids=None,
        invited_by_id=None,
    )
    await session.flush()
    return organization, invitation


async def create_organization(
    session: AsyncSession, *, name: str, admin_email: str, admin_name: str, password: str | None
) -> NewAdmin:
    """A new organization with its first admin and that admin's API token (for the operator's
    demo and command line, which may say that an address is taken)."""
    organization = await _new_organization(session, name)
    return await _admin(session, organization, admin_email, admin_name, password)


async def _new_organization(session: AsyncSession, name: str) -> Organization:
    name = name.strip()
    if await repository.get_by_name(session, name) is not None:
        raise Conflict(
            f"An organization called {name!r} already exists.", code="organization_exists"
        )
    organization = Organization(name=name)
    session.add(organization)
    await session.flush()
    return organization


async def create_admin(
    session: AsyncSession, *, organization_name: str, email: str, password: str | None = None
) -> NewAdmin:
    """An admin (and token) in the named organization, creating the organization if needed."""
    organization = await repository.get_by_name(session, organization_name.strip())
    if organization is None:
        organization = Organization(name=organization_name.strip())
        session.add(organization)
        await session.flush()
    return await _admin(session, organization, email, email.split("@")[0], password)


async def _admin(
    session: AsyncSession, organization: Organization, email: str, name: str, password: str | None
) -> NewAdmin:
    member = await members.create_member(
        session,
        organization_id=organization.id,
        email=email,
        name=name,
        role=Role.ADMIN,
        password=password,
    )
    _, token = await members.create_token(
        session, member=member, name="created with the organization"
    )
    return NewAdmin(organization, member, token)


async def get_organization(session: AsyncSession, organization_id: uuid.UUID) -> Organization:
    organization = await repository.get(session, organization_id)
    if organization is None:
        raise NotFound("No such organization.")
    return organization


async def rename_organization(
    session: AsyncSession, *, organization_id: uuid.UUID, name: str
) -> Organization:
    organization = await get_organization(session, organization_id)
    name = name.strip()
    other = await repository.get_by_name(session, name)
    if other is not None and other.id != organization.id:
        raise Conflict(
            f"An organization called {name!r} already exists.", code="organization_exists"
        )
    organization.name = name
    await session.flush()
    return organization
