"""Signing in to the web app: a password check, a sliding session, and a brake on guessing.

The browser holds a random token in a cookie; the database holds only its SHA-256, so a copy
of the database opens no session. A refused sign-in is recorded, and too many for one email
(or from one address) within the window refuse further attempts for a while, whatever the
password.
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tether.members import repository
from tether.members.actor import Actor
from tether.members.passwords import hash_password, verify_password
from tether.members.service import actor_for
from tether.models import LoginFailure, WebSession

# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
# A session's expiry moves forward at most this often, to keep reads from becoming writes.
_TOUCH_EVERY = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Limits:
    idle: timedelta
    longest: timedelta
    failures_per_email: int
    failures_per_address: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of a sign-in: a session token for the cookie, or why there is none."""

    token: str | None = field(default=None, repr=False)
    refusal: str | None = None
    # Seconds to wait before trying again, when refused for too many attempts.
    retry_after: int | None = None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def sign_in(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    address: str,
    limits: Limits,
    now: datetime,
) -> SignIn:
    """Check the password and open a session. Refusals are recorded, not raised, so they last."""
    email = email.strip().lower()
    since = now - limits.window
    by_email, by_address = await repository.count_login_failures(
        session, email=email, address=address, since=since
    )
    if by_email >= limits.failures_per_email or by_address >= limits.failures_per_address:
        wait = int(limits.window.total_seconds())
        return SignIn(
            refusal=f"Too many refused sign-ins. Try again in {wait // 60} minutes, "
            "or ask an admin to reset your password.",
            retry_after=wait,
        )
    member = await repository.get_by_email(session, email)
    if member is None or not verify_password(member.password_hash, password):
        if member is None:
            verify_password(_DUMMY_HASH, password)
        session.add(LoginFailure(email=email, address=address[:64], at=now))
        await session.flush()
        return SignIn(refusal="That email and password do not match a member of Tether.")
    await repository.forget_login_failures(session, email=email, before=since)
    await repository.delete_expired_sessions(session, now)
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            organization_id=member.organization_id,
            member_id=member.id,
            token_hash=digest(token),
            created_at=now,
            last_seen_at=now,
            expires_at=min(now + limits.idle, now + limits.longest),
        )
    )
    await session.flush()
    return SignIn(token=token)


async def resolve(
    session: AsyncSession, token: str, *, limits: Limits, now: datetime, touch: bool = True
) -> Actor | None:
    """The member a session token belongs to, or None when it is unknown or has ended.
    `touch=False` (background requests) leaves the idle timeout where it was."""
    found = await repository.session_by_hash(session, digest(token))
    if found is None:
        return None
    web_session, member = found
    if web_session.expires_at <= now:
        return None
    if touch and now - web_session.last_seen_at >= _TOUCH_EVERY:
        expires_at = min(now + limits.idle, web_session.created_at + limits.longest)
        await repository.touch_session(session, web_session.id, seen_at=now, expires_at=expires_at)
    return await actor_for(session, member)


async def sign_out(session: AsyncSession, token: str) -> None:
    await repository.delete_session(session, digest(token))
