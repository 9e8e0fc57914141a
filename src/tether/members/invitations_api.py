"""/api/v1/invitations: how admins ask people to join the organization."""

import uuid

from fastapi import APIRouter, status

from tether.deps import CurrentActor, SessionDep
from tether.kit.schemas import Counted
from tether.members import invitations
from tether.members.schemas import InvitationCreate, InvitationRead, read_invitation

router = APIRouter(tags=["members"])


@router.get("/invitations")
async def list_invitations(session: SessionDep, actor: CurrentActor) -> Counted[InvitationRead]:
    """Invitations not yet accepted, newest first (admins only)."""
    found = await invitations.list_invitations(session, actor=actor)
    return Counted(data=[read_invitation(i) for i in found], total=len(found))


@router.post("/invitations", status_code=status.HTTP_201_CREATED)
async def invite(
    session: SessionDep, actor: CurrentActor, body: InvitationCreate
) -> InvitationRead:
    """Invite a person by email: they get a link to choose their password and join, with this
    role and client access. Every address is answered alike, whether or not it already signs in
    to Tether somewhere else; only its mailbox learns that."""
    invitation = await invitations.invite(
        session,
        actor=actor,
        email=body.email,
        name=body.name or "",
        role=body.role,
        client_ids=None if body.client_access == "all" else body.client_access,
    )
    return read_invitation(invitation)


@router.get("/invitations/{invitation_id}")
async def get_invitation(
    session: SessionDep, actor: CurrentActor, invitation_id: uuid.UUID
) -> InvitationRead:
    return read_invitation(
        await invitations.get_invitation(session, actor=actor, invitation_id=invitation_id)
    )


@router.post("/invitations/{invitation_id}/resend")
async def resend(
    session: SessionDep, actor: CurrentActor, invitation_id: uuid.UUID
) -> InvitationRead:
    """Email the invitation again, with a new link good for another 7 days; older links stop
    working."""
    return read_invitation(
        await invitations.resend(session, actor=actor, invitation_id=invitation_id)
    )


@router.delete("/invitations/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def cancel(session: SessionDep, actor: CurrentActor, invitation_id: uuid.UUID) -> None:
    """Withdraw an invitation: its link stops working at once."""
    await invitations.cancel(session, actor=actor, invitation_id=invitation_id)
