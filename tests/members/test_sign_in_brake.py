"""The brake on password guessing, seen through Tether's own sign-in form over real HTTP:
concurrent guesses are all counted, per email and per client address, a slowed-down attempt
says when to come back, and the right password always gets in once its wait has passed."""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
import time_machine
from sqlalchemy import select

from tests.fixtures.builders import Org
from tests.fixtures.running import Tether, alongside
from tether.db import utcnow
from tether.models import SignInBrake

PASSWORD = "correct horse battery staple"


# These tests are about the brake, not the hash's cost.
pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
async def email(org: Org) -> str:
    """The organization's admin, who signs in with PASSWORD."""
    response = await org.api.patch(f"/api/v1/members/{org.admin_id}", json={"password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["email"])


class Form:
    """A browser on the sign-in page, sending the form again after each answer."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def send(self, email: str, password: str) -> httpx.Response:
        if "tether_login_csrf" not in self.http.cookies:
            await self.http.get("/login")
        csrf = self.http.cookies["tether_login_csrf"]
        body = {"email": email, "password": password, "csrf_token": csrf}
        return await self.http.post("/login", data=body, headers={"Accept": "text/html"})


@asynccontextmanager
async def browsers(base_url: str, count: int) -> AsyncIterator[list[Form]]:
    """Browsers each with the sign-in form open, ready to send it at the same moment."""
    async with AsyncExitStack() as stack:
        forms = []
        for _ in range(count):
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=base_url, timeout=60))
            await http.get("/login")
            forms.append(Form(http))
        yield forms


def wait_shown(page: httpx.Response) -> int:
    """The seconds the sign-in page tells the member to wait (0: none)."""
    found = re.search(r'data-sign-in-wait="(\d+)"', page.text)
    return int(found.group(1)) if found else 0


async def brake_failures(tether: Tether) -> list[int]:
    async with tether.sessions() as session:
        return sorted((await session.scalars(select(SignInBrake.failures))).all())


async def test_twenty_concurrent_wrong_passwords_for_one_email_are_all_counted(
    tether: Tether, email: str
) -> None:
    async with browsers(tether.base_url, 20) as forms:
        # Time stands still: however long the checks take, no wait passes during the burst.
        with time_machine.travel(utcnow(), tick=False):
            answers = await asyncio.gather(
                *(form.send(email, f"guess {n}") for n, form in enumerate(forms))
            )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * 5 + [429] * 15
    slowed = [a for a in answers if a.status_code == 429]
    assert all(int(a.headers["retry-after"]) >= 1 for a in slowed)
    assert all("Sign-ins for this email are slowed down" in a.text for a in slowed)
    # The five free refusals were counted one at a time; the fifteen others were never checked.
    assert 5 in await brake_failures(tether)


async def test_twenty_concurrent_guesses_at_many_emails_from_one_address_are_all_counted(
    tether: Tether,
) -> None:
    with alongside(tether, login_failures_per_address=5) as strict:
        async with browsers(strict.base_url, 20) as forms:
            with time_machine.travel(utcnow(), tick=False):
                answers = await asyncio.gather(
                    *(form.send(f"guess-{n}@example.com", "guess") for n, form in enumerate(forms))
                )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * 5 + [429] * 15
    slowed = [a for a in answers if a.status_code == 429]
    assert all("Sign-ins from this address are slowed down" in a.text for a in slowed)
    assert all("retry-after" in a.headers for a in slowed)


async def test_the_right_password_gets_in_after_many_wrong_ones_once_the_wait_has_passed(
    tether: Tether, email: str
) -> None:
    """No lock-out: however many wrong passwords came before, the wait never grows past the
    longest delay, and the right password after it signs in."""
    longest = tether.settings.login_delay_max_seconds
    async with httpx.AsyncClient(base_url=tether.base_url, timeout=60) as http:
        form = Form(http)
        with time_machine.travel(utcnow(), tick=False) as clock:
            waits = [0]
            for n in range(30):
                clock.shift(waits[-1])  # each guess comes as soon as it may be checked
                answer = await form.send(email, f"guess {n}")
                assert answer.status_code == 401, answer.text
                waits.append(wait_shown(answer))
            early = await form.send(email, PASSWORD)
            clock.shift(int(early.headers["retry-after"]))
            on_time = await form.send(email, PASSWORD)

    assert max(waits) == longest
    assert early.status_code == 429
    assert 0 < int(early.headers["retry-after"]) <= longest
    assert on_time.status_code == 303
    assert "tether_session" in on_time.cookies


async def test_guesses_at_one_email_do_not_slow_that_member_down_from_another_address(
    tether: Tether, email: str
) -> None:
    """The address's brake is its own: another address's wrong passwords slow it down, not
    the member's address, beyond the email's own wait."""
    with alongside(tether, login_failures_per_address=3) as strict:
        async with httpx.AsyncClient(base_url=strict.base_url, timeout=60) as http:
            form = Form(http)
            with time_machine.travel(utcnow(), tick=False):
                for _ in range(3):
                    await form.send(f"other-{uuid.uuid4().hex[:6]}@example.com", "guess")
                from_there = await form.send(email, PASSWORD)

    assert from_there.status_code == 429
    assert "from this address" in from_there.text


async def guesses_from(base_url: str, forwarded_for: list[str]) -> list[httpx.Response]:
    """One wrong guess at a fresh email from each address a proxy says it forwards for."""
    answers = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        form = Form(http)
        for address in forwarded_for:
            http.headers["X-Forwarded-For"] = address
            answers.append(await form.send(f"guess-{uuid.uuid4().hex[:6]}@example.com", "guess"))
    return answers


async def test_behind_a_trusted_proxy_each_client_address_has_a_brake_of_its_own(
    tether: Tether,
) -> None:
    with (
        alongside(tether, login_failures_per_address=3, trusted_proxies="127.0.0.0/8") as proxied,
        time_machine.travel(utcnow(), tick=False),
    ):
        first = await guesses_from(proxied.base_url, ["203.0.113.7"] * 4)
        second = await guesses_from(proxied.base_url, ["198.51.100.9"])

    assert [a.status_code for a in first] == [401, 401, 401, 429]
    assert "from this address" in first[-1].text
    # The proxy's other client is not slowed down by the first one's guesses.
    assert [a.status_code for a in second] == [401]


async def test_without_a_trusted_proxy_a_fresh_x_forwarded_for_does_not_dodge_the_brake(
    tether: Tether,
) -> None:
    forged = [f"192.0.2.{n}" for n in range(1, 5)]
    with (
        alongside(tether, login_failures_per_address=3) as direct,
        time_machine.travel(utcnow(), tick=False),
    ):
        answers = await guesses_from(direct.base_url, forged)

    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert "from this address" in answers[-1].text
