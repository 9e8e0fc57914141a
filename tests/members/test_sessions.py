"""The brake on password guessing: a few free tries, then waits that grow, and never a lock-out."""

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.fixtures.running import Tether
from tether.members import sessions
from tether.members.sessions import Limits, SignIn
from tether.models import SignInBrake
from tether.organizations.service import create_organization

PASSWORD = "correct horse battery staple"
LIMITS = Limits(
    idle=timedelta(hours=12),
    longest=timedelta(days=14),
    failures_per_email=5,
    failures_per_address=30,
    window=timedelta(minutes=15),
    first_delay=timedelta(seconds=2),
    longest_delay=timedelta(seconds=60),
)
START = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
MISMATCH = "That email and password do not match a member of Tether."


# These tests are about the brake, not the hash's cost.
pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
async def email(tether: Tether) -> str:
    """A member who signs in with PASSWORD."""
    address = f"admin-{uuid.uuid4().hex[:8]}@agency.example.com"
    async with tether.sessions() as session:
        await create_organization(
            session,
            name=f"Agency {uuid.uuid4().hex[:6]}",
            admin_email=address,
            admin_name="Admin",
            password=PASSWORD,
        )
        await session.commit()
    return address


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords the brake let through to be checked against a hash."""
    seen: list[str] = []
    verify = sessions.verify_password

    def counting(password_hash: str | None, password: str) -> bool:
        seen.append(password)
        return verify(password_hash, password)

    monkeypatch.setattr(sessions, "verify_password", counting)
    return seen


async def attempt(
    tether: Tether,
    email: str,
    password: str,
    *,
    at: datetime,
    address: str = "203.0.113.7",
    limits: Limits = LIMITS,
) -> SignIn:
    """One sign-in in its own transaction, as one request makes it."""
    async with tether.sessions() as session:
        outcome = await sessions.sign_in(
            session, email=email, password=password, address=address, limits=limits, now=at
        )
        await session.commit()
    return outcome


async def five_wrong(tether: Tether, email: str, *, address: str = "203.0.113.7") -> list[SignIn]:
    return [await attempt(tether, email, "guess", at=START, address=address) for _ in range(5)]


async def test_five_free_tries_warn_before_sign_ins_slow_down(tether: Tether, email: str) -> None:
    refusals = [outcome.refusal for outcome in await five_wrong(tether, email)]

    assert refusals == [
        MISMATCH,
        MISMATCH,
        f"{MISMATCH} 2 tries left before sign-ins for this email slow down.",
        f"{MISMATCH} 1 try left before sign-ins for this email slow down.",
        f"{MISMATCH} Sign-ins for this email are slowed down now: "
        "wait 2 seconds before trying again.",
    ]


async def test_each_further_wrong_password_doubles_the_wait_up_to_a_minute(
    tether: Tether, email: str
) -> None:
    waits = [(await five_wrong(tether, email))[-1].retry_after]
    at = START
    for _ in range(6):
        at += timedelta(seconds=waits[-1] or 0)
        outcome = await attempt(tether, email, "guess", at=at)
        assert not outcome.slowed
        waits.append(outcome.retry_after)

    assert waits == [2, 4, 8, 16, 32, 60, 60]


async def test_the_right_password_after_the_wait_signs_in_and_clears_the_count(
    tether: Tether, email: str
) -> None:
    await five_wrong(tether, email)

    signed_in = await attempt(tether, email, PASSWORD, at=START + timedelta(seconds=2))
    later = [
        await attempt(tether, email, "guess", at=START + timedelta(seconds=3)) for _ in range(4)
    ]

    assert signed_in.token is not None
    assert [o.retry_after for o in later] == [None] * 4
    assert later[0].refusal == MISMATCH


async def test_the_right_password_before_the_wait_is_refused_unchecked(
    tether: Tether, email: str, checked: list[str]
) -> None:
    await five_wrong(tether, email)

    early = await attempt(tether, email, PASSWORD, at=START + timedelta(milliseconds=500))

    assert early.token is None
    assert early.slowed
    assert early.retry_after == 2
    assert early.refusal == (
        "Sign-ins for this email are slowed down after refused attempts. "
        "Wait 2 seconds before trying again."
    )
    assert PASSWORD not in checked
    assert len(checked) == 5
    # The early attempt did not lengthen the wait: on time, the password still works.
    assert (await attempt(tether, email, PASSWORD, at=START + timedelta(seconds=2))).token


async def test_an_unknown_email_is_counted_and_answered_like_a_members(
    tether: Tether, email: str
) -> None:
    async def answers(who: str, address: str) -> list[tuple[str | None, int | None, bool]]:
        outcomes = await five_wrong(tether, who, address=address)
        outcomes.append(await attempt(tether, who, "guess", at=START, address=address))
        return [(o.refusal, o.retry_after, o.slowed) for o in outcomes]

    member = await answers(email, "198.51.100.1")
    nobody = await answers("nobody@agency.example.com", "198.51.100.2")

    assert nobody == member
    assert member[-1][2] is True


async def test_a_count_is_forgotten_after_the_window_without_refusals(
    tether: Tether, email: str
) -> None:
    await five_wrong(tether, email)

    later = await attempt(tether, email, "guess", at=START + timedelta(minutes=16))

    assert (later.refusal, later.retry_after) == (MISMATCH, None)


async def test_many_emails_from_one_address_slow_that_address_down(
    tether: Tether, email: str
) -> None:
    limits = replace(LIMITS, failures_per_address=6)
    address = "192.0.2.9"
    guesses = [
        await attempt(tether, f"guess-{n}@example.com", "x", at=START, address=address,
                      limits=limits)
        for n in range(6)
    ]  # fmt: skip
    from_there = await attempt(tether, email, PASSWORD, at=START, address=address, limits=limits)
    elsewhere = await attempt(tether, email, PASSWORD, at=START, limits=limits)

    assert guesses[3].refusal == (
        f"{MISMATCH} 2 tries left before sign-ins from this address slow down."
    )
    assert guesses[5].retry_after == 2
    assert from_there.slowed
    assert from_there.refusal is not None
    assert from_there.refusal.startswith("Sign-ins from this address are slowed down")
    assert elsewhere.token is not None


async def test_the_brake_keeps_no_email_or_address(tether: Tether, email: str) -> None:
    await five_wrong(tether, email)

    async with tether.sessions() as session:
        brakes = (await session.scalars(select(SignInBrake))).all()

    assert {b.failures for b in brakes} == {5}
    assert all(email not in b.key and "203.0.113.7" not in b.key for b in brakes)


@pytest.mark.parametrize("counted", ["email", "address"])
async def test_twenty_concurrent_guesses_check_only_the_free_tries(
    tether: Tether, email: str, checked: list[str], counted: str
) -> None:
    """Guesses at the same moment, each in its own transaction: the brake counts them one at a
    time, so exactly the free ones reach the password check and the rest are slowed down."""
    limits = replace(LIMITS, failures_per_address=5)

    def guess(n: int) -> tuple[str, str]:
        if counted == "email":
            return email, f"10.0.0.{n}"
        return f"guess-{n}@example.com", "192.0.2.50"

    outcomes = await asyncio.gather(
        *(attempt(tether, who, "guess", at=START, address=address, limits=limits)
          for who, address in map(guess, range(20)))
    )  # fmt: skip

    assert sum(not o.slowed for o in outcomes) == 5
    assert sum(o.slowed for o in outcomes) == 15
    assert len(checked) == 5
    assert all(o.token is None for o in outcomes)


async def test_a_sign_in_sweeps_away_counts_older_than_the_window(
    tether: Tether, email: str
) -> None:
    await five_wrong(tether, "nobody@agency.example.com", address="198.51.100.3")

    later = START + timedelta(minutes=16)
    assert (await attempt(tether, email, PASSWORD, at=later, address="198.51.100.4")).token

    async with tether.sessions() as session:
        left = (await session.scalars(select(SignInBrake))).all()
    assert [(b.failures, b.counted_at) for b in left] == [(0, later)]  # the new address's
