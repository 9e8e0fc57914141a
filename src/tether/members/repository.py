"""SQL for members, their client access and their API tokens."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tether.db import utcnow
from tether.kit.inserts_repository import insert_ignoring_conflicts
from tether.models import (
    ApiToken,
    Client,
    Member,
    MemberClientAccess,
    SignInBrake,
    WebSession,
)
from tether.models.member import Role


async def get(
    session: AsyncSession, organization_id: uuid.UUID, member_id: uuid.UUID
) -> Member | None:
    stmt = select(Member).where(Member.id == member_id, Member.organization_id == organization_id)
    return await session.scalar(stmt)


async def get_by_email(session: AsyncSession, email: str) -> Member | None:
    return await session.scalar(select(Member).where(Member.email == email))


async def list_all(session: AsyncSession, organization_id: uuid.UUID) -> Sequence[Member]:
    stmt = select(Member).where(Member.organization_id == organization_id).order_by(Member.email)
    return (await session.scalars(stmt)).all()


async def count_admins(session: AsyncSession, organization_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(
        Member.organization_id == organization_id, Member.role == Role.ADMIN
    )
    return (await session.scalar(stmt)) or 0


async def client_ids(session: AsyncSession, member_id: uuid.UUID) -> frozenset[uuid.UUID]:
    stmt = select(MemberClientAccess.client_id).where(MemberClientAccess.member_id == member_id)
    return frozenset((await session.scalars(stmt)).all())


async def client_ids_by_member(
    session: AsyncSession, member_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    stmt = select(MemberClientAccess.member_id, MemberClientAccess.client_id).where(
        MemberClientAccess.member_id.in_(member_ids)
    )
    found: dict[uuid.UUID, list[uuid.UUID]] = {member_id: [] for member_id in member_ids}
    for member_id, client_id in (await session.execute(stmt)).all():
        found[member_id].append(client_id)
    return found


async def replace_client_access(
    session: AsyncSession, member_id: uuid.UUID, client_ids: Sequence[uuid.UUID]
) -> None:
    """Also moves the member's `updated_at`, which tells kept copies of the access that they
    are stale (members/client_access.py)."""
    await session.execute(update(Member).where(Member.id == member_id).values(updated_at=utcnow()))
    await session.execute(
        delete(MemberClientAccess).where(MemberClientAccess.member_id == member_id)
    )
    session.add_all(MemberClientAccess(member_id=member_id, client_id=c) for c in client_ids)
    await session.flush()


async def token_by_hash(session: AsyncSession, token_hash: str) -> tuple[ApiToken, Member] | None:
    stmt = (
        select(ApiToken, Member)
        .join(Member, Member.id == ApiToken.member_id)
        .where(ApiToken.token_hash == token_hash)
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else (row[0], row[1])


async def touch_token(session: AsyncSession, token_id: uuid.UUID, when: datetime) -> None:
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=when))


async def tokens_of(session: AsyncSession, member_id: uuid.UUID) -> Sequence[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.member_id == member_id).order_by(ApiToken.created_at)
    return (await session.scalars(stmt)).all()


async def get_token(
    session: AsyncSession, member_id: uuid.UUID, token_id: uuid.UUID
) -> ApiToken | None:
    stmt = select(ApiToken).where(ApiToken.id == token_id, ApiToken.member_id == member_id)
    return await session.scalar(stmt)


async def session_by_hash(
    session: AsyncSession, token_hash: str
) -> tuple[WebSession, Member] | None:
    stmt = (
        select(WebSession, Member)
        .join(Member, Member.id == WebSession.member_id)
        .where(WebSession.token_hash == token_hash)
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else (row[0], row[1])


async def touch_session(
    session: AsyncSession, session_id: uuid.UUID, *, seen_at: datetime, expires_at: datetime
) -> None:
    stmt = (
        update(WebSession)
        .where(WebSession.id == session_id)
        .values(last_seen_at=seen_at, expires_at=expires_at)
    )
    await session.execute(stmt)


async def delete_session(session: AsyncSession, token_hash: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


async def delete_sessions_of(
    session: AsyncSession, member_id: uuid.UUID, *, keep: str | None
) -> None:
    """End every web session of the member, except the one whose digest is `keep`."""
    stmt = delete(WebSession).where(WebSession.member_id == member_id)
    if keep is not None:
        stmt = stmt.where(WebSession.token_hash != keep)
    await session.execute(stmt)


async def delete_expired_sessions(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(WebSession).where(WebSession.expires_at < now))


async def hold_brakes(
    session: AsyncSession, keys: Sequence[str], *, now: datetime
) -> list[SignInBrake]:
    """The brakes of these keys, made when missing and held until the transaction ends, so
    concurrent sign-ins for one email or from one address take turns: PostgreSQL locks the
    rows, SQLite the database (the insert takes its write lock before anything is read)."""
    ordered = sorted(keys)  # one order everywhere, so two sign-ins never wait on each other
    fresh = [{"key": k, "failures": 0, "counted_at": now, "next_attempt_at": now} for k in ordered]
    await insert_ignoring_conflicts(session, SignInBrake, fresh)
    stmt = (
        select(SignInBrake)
        .where(SignInBrake.key.in_(ordered))
        .order_by(SignInBrake.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def sweep_brakes(session: AsyncSession, *, since: datetime, now: datetime) -> None:
    """Delete some brakes nothing was counted on since `since`; rows another sign-in holds are
    left for later rather than waited for."""
    stale = (
        select(SignInBrake.key)
        .where(SignInBrake.counted_at < since, SignInBrake.next_attempt_at <= now)
        .limit(200)
        .with_for_update(skip_locked=True)
    )
    await session.execute(delete(SignInBrake).where(SignInBrake.key.in_(stale)))


async def client_access_summary(
    session: AsyncSession, organization_id: uuid.UUID, member_ids: Sequence[uuid.UUID], first: int
) -> dict[uuid.UUID, tuple[int, list[str]]]:
    """Per member, how many clients they are given and the names of the first few by name: two
    statements, however many clients (a member of a big agency may have thousands)."""
    found: dict[uuid.UUID, tuple[int, list[str]]] = {m: (0, []) for m in member_ids}
    if not member_ids:
        return found
    counted = (
        select(MemberClientAccess.member_id, func.count())
        .where(MemberClientAccess.member_id.in_(member_ids))
        .group_by(MemberClientAccess.member_id)
    )
    for member_id, n in (await session.execute(counted)).all():
        found[member_id] = (n, [])
    ranked = (
        select(
            MemberClientAccess.member_id,
            Client.name,
            func.row_number()
            .over(partition_by=MemberClientAccess.member_id, order_by=(Client.name, Client.id))
            .label("rank"),
        )
        .join(Client, Client.id == MemberClientAccess.client_id)
        .where(
            MemberClientAccess.member_id.in_(member_ids), Client.organization_id == organization_id
        )
        .subquery()
    )
    stmt = (
        select(ranked.c.member_id, ranked.c.name)
        .where(ranked.c.rank <= first)
        .order_by(ranked.c.member_id, ranked.c.rank)
    )
    for member_id, name in (await session.execute(stmt)).all():
        found[member_id][1].append(name)
    return found


async def client_names(
    session: AsyncSession, organization_id: uuid.UUID, client_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, str]]:
    if not client_ids:
        return []
    stmt = (
        select(Client.id, Client.name)
        .where(Client.organization_id == organization_id, Client.id.in_(client_ids))
        .order_by(Client.name, Client.id)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]
