"""/api/v1/organization (the caller's) and /api/v1/organizations (creating new ones)."""

import uuid
from datetime import datetime

from fastapi import APIRouter, status
from pydantic import Field

from tether.audit import service as audit
from tether.deps import CurrentActor, SessionDep
from tether.kit.inputs import Email, Name
from tether.kit.schemas import Schema
from tether.members.schemas import InvitationRead, read_invitation
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


class OrganizationUpdate(Schema):
    name: Name


class OrganizationCreated(Schema):
    organization: OrganizationRead
    invitation: InvitationRead = Field(
        description="The first admin's invitation: they join through the emailed link."
    )


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
    """A new, separate organization (for agencies running several). Its first admin is invited
    by email and chooses their password through the link, as every member joins."""
    actor.require_admin("create organizations")
    organization, invitation = await service.found_organization(
        session,
        name=body.name,
        admin_email=body.admin_email,
        admin_name=body.admin_name or "",
    )
    audit.record(
        session,
        organization_id=organization.id,
        actor=actor.audit_name,
        action="organization.created",
        subject_type="organization",
        subject_id=organization.id,
        invited=invitation.email,
    )
    return OrganizationCreated(
        organization=OrganizationRead.model_validate(organization),
        invitation=read_invitation(invitation),
    )
