"""Members, their roles and client access, and the API tokens they act through."""

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.audit import service as audit
from tether.clients import repository as clients_repository
from tether.db import utcnow
from tether.errors import Conflict, Forbidden, NotAuthenticated, NotFound
from tether.members import repository
from tether.members.client_access import visible_clients
from tether.members.passwords import hash_password, verify_password
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
    """Add a person to the organization; staff get every client unless `client_ids` is given.

    For the operator's first admin and for an accepted invitation: an admin adding someone
    invites them (`invitations.invite`), which tells nothing about other organizations."""
    email = email.strip().lower()
    existing = await repository.get_by_email(session, email)
    if existing is not None and existing.organization_id == organization_id:
        raise Conflict(f"{email} is already a member of this organization.", code="member_exists")
    if existing is not None:
        raise Conflict(
            f"{email} already signs in to Tether, and an address signs in to one organization "
            "only. Use another address.",
            code="email_taken",
        )
    all_clients = role != Role.STAFF or client_ids is None
    ids = None if all_clients else await check_clients(session, organization_id, client_ids or [])
    member = Member(
        id=uuid.uuid4(),
        organization_id=organization_id,
        email=email,
        name=name.strip() or email,
        role=role,
        all_clients=all_clients,
        password_hash=await asyncio.to_thread(hash_password, password) if password else None,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(member)
    await session.flush()
    if ids is not None:
        await repository.replace_client_access(session, member.id, ids)
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
    keep_session: str | None = None,
) -> Member:
    """Change a member's name, role, client access or password. A new password ends every
    web session of the member (someone who knew the old one is signed out), except
    `keep_session`: the digest of the session of an admin changing their own password."""
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
        keep = keep_session if member.id == actor.member_id else None
        await _set_password(session, member, password, keep_session=keep)
    if all_clients or member.role != Role.STAFF:
        member.all_clients = True
        await repository.replace_client_access(session, member.id, [])
    elif client_ids is not None:
        await _set_client_access(session, member, client_ids)
    await session.flush()
    return member


async def change_own_password(
    session: AsyncSession,
    *,
    actor: Actor,
    current_password: str,
    new_password: str,
    keep_session: str | None = None,
) -> None:
    """A member changes their own password, knowing the current one. Their other web sessions
    end; `keep_session` (the digest of the session they are using, if any) stays."""
    member = await get_member(session, actor=actor, member_id=actor.member_id)
    if not await asyncio.to_thread(verify_password, member.password_hash, current_password):
        raise Forbidden(
            "The current password is not right, so the password was not changed.",
            code="wrong_password",
        )
    await _set_password(session, member, new_password, keep_session=keep_session)
    await session.flush()


async def _set_password(
    session: AsyncSession, member: Member, password: str, *, keep_session: str | None
) -> None:
    # API tokens are left working: they are separate, named credentials that the member and
    # admins see and revoke one by one (docs/decisions/007).
    member.password_hash = await asyncio.to_thread(hash_password, password)
    await repository.delete_sessions_of(session, member.id, keep=keep_session)


async def check_clients(
    session: AsyncSession, organization_id: uuid.UUID, client_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    ids = list(dict.fromkeys(client_ids))
    found = await clients_repository.existing_ids(session, organization_id, ids)
    missing = [str(i) for i in ids if i not in found]
    if missing:
        # Like any other id that names nothing (api_contract): a 404.
        raise NotFound(
            f"No such client in this organization: {', '.join(missing)}.", code="unknown_client"
        )
    return ids


async def _set_client_access(
    session: AsyncSession, member: Member, client_ids: Sequence[uuid.UUID]
) -> None:
    ids = await check_clients(session, member.organization_id, client_ids)
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
    members = await list_member_rows(session, actor=actor)
    limited = [m.id for m in members if not m.all_clients]
    return members, await repository.client_ids_by_member(session, limited)


async def list_member_rows(session: AsyncSession, *, actor: Actor) -> Sequence[Member]:
    """Every member of the organization, without their client lists (to name them)."""
    return await repository.list_all(session, actor.organization_id)


async def client_access_summary(
    session: AsyncSession, *, actor: Actor, members: Sequence[Member], first: int
) -> dict[uuid.UUID, tuple[int, list[str]]]:
    """For each limited staff member among these: how many clients they see, and the names of
    the first `first` by name."""
    limited = [m.id for m in members if not m.all_clients]
    return await repository.client_access_summary(session, actor.organization_id, limited, first)


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


async def create_token(
    session: AsyncSession, *, member: Member, name: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """A new API token for the member, working until revoked or for `expires_in_days`.
    The plaintext is returned here once and never stored."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = None if expires_in_days is None else utcnow() + timedelta(days=expires_in_days)
    token = ApiToken(
        organization_id=member.organization_id,
        member_id=member.id,
        name=name,
        token_hash=_digest(plaintext),
        prefix=plaintext[:10],
        expires_at=expires_at,
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
    if token.expires_at is not None and token.expires_at <= now:
        raise NotAuthenticated(
            f"This API token ({token.prefix}…) expired on {token.expires_at:%Y-%m-%d %H:%M} UTC. "
            "Create a new one in Tether.",
            code="token_expired",
        )
    if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
        await repository.touch_token(session, token.id, now)
    return await actor_for(session, member)


async def actor_for(session: AsyncSession, member: Member) -> Actor:
    client_ids = None if member.all_clients else await visible_clients(session, member)
    return Actor(member.id, member.organization_id, member.role, member.email, client_ids)


async def list_tokens(session: AsyncSession, *, actor: Actor) -> Sequence[ApiToken]:
    return await repository.tokens_of(session, actor.member_id)


async def delete_token(session: AsyncSession, *, actor: Actor, token_id: uuid.UUID) -> None:
    await revoke_token(session, actor=actor, member_id=actor.member_id, token_id=token_id)


async def list_member_tokens(
    session: AsyncSession, *, actor: Actor, member_id: uuid.UUID
) -> Sequence[ApiToken]:
    """Another member's API tokens, for an admin; a member may list their own."""
    if member_id != actor.member_id:
        actor.require_admin("see other members' API tokens")
    member = await get_member(session, actor=actor, member_id=member_id)
    return await repository.tokens_of(session, member.id)


async def revoke_token(
    session: AsyncSession, *, actor: Actor, member_id: uuid.UUID, token_id: uuid.UUID
) -> ApiToken:
    """Delete an API token: at once, every request made with it is refused. Members revoke
    their own; admins anyone's. The audit log keeps who revoked which."""
    if member_id != actor.member_id:
        actor.require_admin("revoke other members' API tokens")
    member = await get_member(session, actor=actor, member_id=member_id)
    token = await repository.get_token(session, member.id, token_id)
    if token is None:
        raise NotFound("No such API token.")
    audit.record(
        session,
        organization_id=member.organization_id,
        actor=actor.audit_name,
        action="api_token.revoked",
        subject_type="member",
        subject_id=member.id,
        token_name=token.name,
        token_prefix=token.prefix,
    )
    await session.delete(token)
    await session.flush()
    return token


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()
