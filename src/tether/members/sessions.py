"""Signing in to the web app: a password check, a sliding session, and a brake on guessing.

The browser holds a random token in a cookie; the database holds only its SHA-256, so a copy
of the database opens no session.

The brake counts refused sign-ins per email (whether or not a member has it, so it tells
nothing about who is one) and per client address. A few are free; after them each attempt
waits a delay that doubles up to a cap, and one that comes early is refused without looking at
the password. Nobody is locked out: the right password after the wait signs in and clears the
email's count. Concurrent attempts take turns on the brake's row, so none slips past the count.
"""

import asyncio
import hashlib
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.kit.words import plural
from tether.members import repository
from tether.members.passwords import hash_password, verify_password
from tether.members.service import actor_for
from tether.models import Member, SignInBrake, WebSession

# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
# A session's expiry moves forward at most this often, to keep reads from becoming writes.
_TOUCH_EVERY = timedelta(minutes=5)
# A refusal says how many free tries are left once this few remain.
_WARN_WHEN_LEFT = 2
_MISMATCH = "That email and password do not match a member of Tether."


@dataclass(frozen=True, slots=True)
class Limits:
    idle: timedelta
    longest: timedelta
    # Refused sign-ins allowed before each further attempt has to wait.
    failures_per_email: int
    failures_per_address: int
    # A count is forgotten after this long without a refused sign-in.
    window: timedelta
    # The wait after the last free refusal; it doubles with each further one, up to the longest.
    first_delay: timedelta
    longest_delay: timedelta


@dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of a sign-in: a session token for the cookie, or why there is none."""

    token: str | None = field(default=None, repr=False)
    refusal: str | None = None
    # Seconds before the next attempt is checked, when sign-ins are slowed down.
    retry_after: int | None = None
    # Refused before the password was checked, because the wait had not passed.
    slowed: bool = False


@dataclass(frozen=True, slots=True)
class _Counter:
    """One thing the brake counts refusals of, as its row and as words for a person."""

    brake: SignInBrake
    free: int
    scope: str


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
    """Check the password and open a session, unless the brake says to wait first."""
    email = email.strip().lower()
    counters = await _hold(session, email=email, address=address, limits=limits, now=now)
    since = now - limits.window
    waits = [_wait(c.brake, since=since, now=now) for c in counters]
    if max(waits) > 0:
        scope = counters[waits.index(max(waits))].scope
        return SignIn(
            refusal=f"Sign-ins {scope} are slowed down after refused attempts. "
            f"Wait {plural(max(waits), 'second')} before trying again.",
            retry_after=max(waits),
            slowed=True,
        )
    member = await repository.get_by_email(session, email)
    matched = await _password_matches(member, password)
    if member is None or not matched:
        for counter in counters:
            _count_refusal(counter, since=since, limits=limits, now=now)
        await session.flush()
        return _refused(counters, since=since, now=now)
    await session.delete(counters[0].brake)  # the email's count starts again
    await repository.sweep_brakes(session, since=since, now=now)
    return SignIn(token=await open_session(session, member, limits=limits, now=now))


async def _hold(
    session: AsyncSession, *, email: str, address: str, limits: Limits, now: datetime
) -> list[_Counter]:
    """The email's brake and the address's, held until the transaction ends."""
    keys = {
        digest(f"email:{email}"): (limits.failures_per_email, "for this email"),
        digest(f"address:{address}"): (limits.failures_per_address, "from this address"),
    }
    brakes = {b.key: b for b in await repository.hold_brakes(session, list(keys), now=now)}
    return [_Counter(brakes[key], free, scope) for key, (free, scope) in keys.items()]


def _wait(brake: SignInBrake, *, since: datetime, now: datetime) -> int:
    """Whole seconds before this brake lets the next attempt be checked; 0 when it does now."""
    if brake.counted_at < since or brake.next_attempt_at <= now:
        return 0
    return max(1, math.ceil((brake.next_attempt_at - now).total_seconds()))


async def _password_matches(member: Member | None, password: str) -> bool:
    # In a thread: the hash takes a while, and other requests should not wait for it.
    if member is None:
        await asyncio.to_thread(verify_password, _DUMMY_HASH, password)
        return False
    return await asyncio.to_thread(verify_password, member.password_hash, password)


def _count_refusal(counter: _Counter, *, since: datetime, limits: Limits, now: datetime) -> None:
    brake = counter.brake
    failures = (brake.failures if brake.counted_at >= since else 0) + 1
    beyond = failures - counter.free
    delay = timedelta(0)
    if beyond >= 0:
        delay = min(limits.longest_delay, limits.first_delay * 2 ** min(beyond, 20))
    brake.failures, brake.counted_at, brake.next_attempt_at = failures, now, now + delay


def _refused(counters: Sequence[_Counter], *, since: datetime, now: datetime) -> SignIn:
    """A wrong password's refusal, warning when few free tries are left, or saying how long
    to wait when this refusal was the last free one."""
    waits = [_wait(c.brake, since=since, now=now) for c in counters]
    if max(waits) > 0:
        scope = counters[waits.index(max(waits))].scope
        return SignIn(
            refusal=f"{_MISMATCH} Sign-ins {scope} are slowed down now: "
            f"wait {plural(max(waits), 'second')} before trying again.",
            retry_after=max(waits),
        )
    left = [c.free - c.brake.failures for c in counters]
    fewest = min(left)
    if not 0 < fewest <= _WARN_WHEN_LEFT:
        return SignIn(refusal=_MISMATCH)
    scope = counters[left.index(fewest)].scope
    tries = plural(fewest, "try", "tries")
    return SignIn(refusal=f"{_MISMATCH} {tries} left before sign-ins {scope} slow down.")


async def open_session(
    session: AsyncSession, member: Member, *, limits: Limits, now: datetime
) -> str:
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
    return token


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
