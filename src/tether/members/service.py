"""Members, their roles and client access, and the API tokens they act through."""

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tether.clients import repository as clients_repository
from tether.db import utcnow
from tether.errors import Conflict, NotAuthenticated, NotFound, Unprocessable
from tether.members import repository
from tether.members.actor import Actor
from tether.members.passwords import hash_password
from tether.models import ApiToken, Member
from tether.models.member import Role

TOKEN_PREFIX = "tth_"
# Writing last_used_at on every request would make every read a write; once a minute is enough.
_TOUCH_EVERY = timedelta(minutes=1)


async def create_member(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    email: str,
    name: str,
    role: Role,
    client_ids: Sequence[uuid.UUID] | None = None,
    password: str | None = None,
) -> Member:
    """Add a person to the organization; staff get every client unless `client_ids` is given."""
    email = email.strip().lower()
    if await repository.get_by_email(session, email) is not None:
        raise Conflict(f"A member with the email {email} already exists.", code="member_exists")
    member = Member(
        organization_id=organization_id,
        email=email,
        name=name.strip() or email,
        role=role,
        all_clients=role != Role.STAFF or client_ids is None,
        password_hash=hash_password(password) if password else None,
    )
    session.add(member)
    await session.flush()
    if role == Role.STAFF and client_ids is not None:
        await _set_client_access(session, member, client_ids)
    return member


async def update_member(
    session: AsyncSession,
    *,
    actor: Actor,
    member_id: uuid.UUID,
    name: str | None = None,
    role: Role | None = None,
    client_ids: Sequence[uuid.UUID] | None = None,
    all_clients: bool = False,
    password: str | None = None,
) -> Member:
    """Change a member's name, role, client access or password."""
    actor.require_admin("change members")
    member = await get_member(session, actor=actor, member_id=member_id)
    if role is not None and role != member.role:
        if (
            member.role == Role.ADMIN
            and await repository.count_admins(session, actor.organization_id) == 1
        ):
            raise Conflict("An organization needs at least one admin.", code="last_admin")
        member.role = role
    if name is not None:
        member.name = name
    if password is not None:
        member.password_hash = hash_password(password)
    if all_clients or member.role != Role.STAFF:
        member.all_clients = True
        await repository.replace_client_access(session, member.id, [])
    elif client_ids is not None:
        await _set_client_access(session, member, client_ids)
    await session.flush()
    return member


async def _set_client_access(
    session: AsyncSession, member: Member, client_ids: Sequence[uuid.UUID]
) -> None:
    ids = list(dict.fromkeys(client_ids))
    found = await clients_repository.existing_ids(session, member.organization_id, ids)
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise Unprocessable(
            f"No such client in this organization: {', '.join(missing)}.", code="unknown_client"
        )
    member.all_clients = False
    await repository.replace_client_access(session, member.id, ids)


async def get_member(session: AsyncSession, *, actor: Actor, member_id: uuid.UUID) -> Member:
    member = await repository.get(session, actor.organization_id, member_id)
    if member is None:
        raise NotFound("No such member.")
    return member


async def list_members(
    session: AsyncSession, *, actor: Actor
) -> tuple[Sequence[Member], dict[uuid.UUID, list[uuid.UUID]]]:
    """Every member of the organization, with the client lists of limited staff."""
    members = await repository.list_all(session, actor.organization_id)
    limited = [m.id for m in members if not m.all_clients]
    return members, await repository.client_ids_by_member(session, limited)


async def client_names(
    session: AsyncSession, *, actor: Actor, client_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, str]]:
    """Ids and names of these clients of the organization, by name: to show client access."""
    return await repository.client_names(session, actor.organization_id, list(client_ids))


async def client_access_of(session: AsyncSession, member: Member) -> list[uuid.UUID] | None:
    return None if member.all_clients else sorted(await repository.client_ids(session, member.id))


async def remove_member(session: AsyncSession, *, actor: Actor, member_id: uuid.UUID) -> None:
    actor.require_admin("remove members")
    member = await get_member(session, actor=actor, member_id=member_id)
    if (
        member.role == Role.ADMIN
        and await repository.count_admins(session, actor.organization_id) == 1
    ):
        raise Conflict("An organization needs at least one admin.", code="last_admin")
    await session.delete(member)
    await session.flush()


async def create_token(session: AsyncSession, *, member: Member, name: str) -> tuple[ApiToken, str]:
    """A new API token for the member. The plaintext is returned here once and never stored."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        organization_id=member.organization_id,
        member_id=member.id,
        name=name,
        token_hash=_digest(plaintext),
        prefix=plaintext[:10],
    )
    session.add(token)
    await session.flush()
    return token, plaintext


async def authenticate(session: AsyncSession, plaintext: str) -> Actor:
    """The member behind an API token, or 401."""
    found = await repository.token_by_hash(session, _digest(plaintext))
    if found is None:
        raise NotAuthenticated("This API token is not valid. Create a new one in Tether.")
    token, member = found
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
        await repository.touch_token(session, token.id, now)
    return await actor_for(session, member)


async def actor_for(session: AsyncSession, member: Member) -> Actor:
    client_ids = None if member.all_clients else await repository.client_ids(session, member.id)
    return Actor(member.id, member.organization_id, member.role, member.email, client_ids)


async def list_tokens(session: AsyncSession, *, actor: Actor) -> Sequence[ApiToken]:
    return await repository.tokens_of(session, actor.member_id)


async def delete_token(session: AsyncSession, *, actor: Actor, token_id: uuid.UUID) -> None:
    token = await repository.get_token(session, actor.member_id, token_id)
    if token is None:
        raise NotFound("No such API token.")
    await session.delete(token)
    await session.flush()


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()
