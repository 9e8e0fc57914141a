"""/api/v1/members and /api/v1/tokens."""

import uuid

from fastapi import APIRouter, status

from tether.deps import CurrentActor, SessionDep
from tether.errors import TetherError
from tether.kit.schemas import Counted
from tether.members import service
from tether.members.schemas import (
    MemberRead,
    MemberUpdate,
    PasswordChange,
    TokenCreate,
    TokenCreated,
    TokenRead,
)
from tether.models import Member

router = APIRouter(tags=["members"])


def _read(member: Member, client_ids: list[uuid.UUID] | None) -> MemberRead:
    access = "all" if member.all_clients else sorted(client_ids or [])
    return MemberRead(
        id=member.id,
        email=member.email,
        name=member.name,
        role=member.role,
        client_access=access,
        created_at=member.created_at,
    )


@router.get("/members")
async def list_members(session: SessionDep, actor: CurrentActor) -> Counted[MemberRead]:
    members, access = await service.list_members(session, actor=actor)
    return Counted(data=[_read(m, access.get(m.id)) for m in members], total=len(members))


@router.post("/members", include_in_schema=False)
async def add_member_moved() -> None:
    """Adding a member with a password the admin chose gave way to invitations (decision 007):
    a script still calling this is told where to go, not just that the method is wrong."""
    raise TetherError(
        "Members join by invitation now: POST /api/v1/invitations with their email and role, "
        "and Tether emails them a link to choose their password.",
        code="use_invitations",
        status=410,
    )


@router.get("/members/me")
async def me(session: SessionDep, actor: CurrentActor) -> MemberRead:
    member = await service.get_member(session, actor=actor, member_id=actor.member_id)
    return _read(member, await service.client_access_of(session, member))


@router.post("/members/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(session: SessionDep, actor: CurrentActor, body: PasswordChange) -> None:
    """Change one's own password. Every web session of the member ends; API tokens keep
    working (see each in `/api/v1/tokens`)."""
    await service.change_own_password(
        session,
        actor=actor,
        current_password=body.current_password,
        new_password=body.new_password,
    )


@router.get("/members/{member_id}")
async def get_member(session: SessionDep, actor: CurrentActor, member_id: uuid.UUID) -> MemberRead:
    member = await service.get_member(session, actor=actor, member_id=member_id)
    return _read(member, await service.client_access_of(session, member))


@router.patch("/members/{member_id}")
async def update_member(
    session: SessionDep, actor: CurrentActor, member_id: uuid.UUID, body: MemberUpdate
) -> MemberRead:
    member = await service.update_member(
        session,
        actor=actor,
        member_id=member_id,
        name=body.name,
        role=body.role,
        all_clients=body.client_access == "all",
        client_ids=body.client_access if isinstance(body.client_access, list) else None,
        password=body.password,
    )
    return _read(member, await service.client_access_of(session, member))


@router.delete("/members/{member_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(session: SessionDep, actor: CurrentActor, member_id: uuid.UUID) -> None:
    await service.remove_member(session, actor=actor, member_id=member_id)


@router.get("/tokens")
async def list_tokens(session: SessionDep, actor: CurrentActor) -> Counted[TokenRead]:
    tokens = await service.list_tokens(session, actor=actor)
    return Counted(data=[TokenRead.model_validate(t) for t in tokens], total=len(tokens))


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
async def create_token(session: SessionDep, actor: CurrentActor, body: TokenCreate) -> TokenCreated:
    member = await service.get_member(session, actor=actor, member_id=actor.member_id)
    token, plaintext = await service.create_token(
        session, member=member, name=body.name, expires_in_days=body.expires_in_days
    )
    return TokenCreated(**TokenRead.model_validate(token).model_dump(), token=plaintext)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_token(session: SessionDep, actor: CurrentActor, token_id: uuid.UUID) -> None:
    await service.delete_token(session, actor=actor, token_id=token_id)


@router.get("/members/{member_id}/tokens")
async def list_member_tokens(
    session: SessionDep, actor: CurrentActor, member_id: uuid.UUID
) -> Counted[TokenRead]:
    """A member's API tokens (never the tokens themselves): admins see anyone's."""
    tokens = await service.list_member_tokens(session, actor=actor, member_id=member_id)
    return Counted(data=[TokenRead.model_validate(t) for t in tokens], total=len(tokens))


@router.delete("/members/{member_id}/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_member_token(
    session: SessionDep, actor: CurrentActor, member_id: uuid.UUID, token_id: uuid.UUID
) -> None:
    """Revoke one of a member's API tokens: admins may revoke anyone's."""
    await service.revoke_token(session, actor=actor, member_id=member_id, token_id=token_id)
