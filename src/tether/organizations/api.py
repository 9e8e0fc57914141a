"""/api/v1/organization (the caller's) and /api/v1/organizations (creating new ones)."""

import uuid
from datetime import datetime

from fastapi import APIRouter, status
from pydantic import Field

from tether.deps import CurrentActor, SessionDep
from tether.kit.inputs import Email, Name
from tether.kit.schemas import Schema
from tether.organizations import service

router = APIRouter(tags=["organizations"])


class OrganizationRead(Schema):
    id: uuid.UUID
    name: str
    created_at: datetime


class OrganizationCreate(Schema):
    name: Name
    admin_email: Email
    admin_name: Name | None = None
    admin_password: str | None = Field(default=None, min_length=10, max_length=200)


class OrganizationUpdate(Schema):
    name: Name


class OrganizationCreated(Schema):
    organization: OrganizationRead
    admin_id: uuid.UUID
    admin_email: str
    token: str = Field(description="The new admin's API token. Shown only in this answer.")


@router.get("/organization")
async def get_organization(session: SessionDep, actor: CurrentActor) -> OrganizationRead:
    organization = await service.get_organization(session, actor.organization_id)
    return OrganizationRead.model_validate(organization)


@router.patch("/organization")
async def rename_organization(
    session: SessionDep, actor: CurrentActor, body: OrganizationUpdate
) -> OrganizationRead:
    actor.require_admin("rename the organization")
    organization = await service.rename_organization(
        session, organization_id=actor.organization_id, name=body.name
    )
    return OrganizationRead.model_validate(organization)


@router.post("/organizations", status_code=status.HTTP_201_CREATED)
async def create_organization(
    session: SessionDep, actor: CurrentActor, body: OrganizationCreate
) -> OrganizationCreated:
    """A new, separate organization with its first admin (for agencies running several)."""
    actor.require_admin("create organizations")
    created = await service.create_organization(
        session,
        name=body.name,
        admin_email=body.admin_email,
        admin_name=body.admin_name or body.admin_email,
        password=body.admin_password,
    )
    return OrganizationCreated(
        organization=OrganizationRead.model_validate(created.organization),
        admin_id=created.member.id,
        admin_email=created.member.email,
        token=created.token,
    )
