"""Signing in and out, the CSRF check on every form, and the brake on password guessing."""

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
import time_machine
from playwright.async_api import Browser, expect
from sqlalchemy import select

from tests.fixtures.browser import PASSWORD, Web
from tests.fixtures.builders import create_org
from tests.fixtures.running import Tether, alongside
from tether import demo
from tether.db import utcnow
from tether.models import WebSession


async def test_a_member_signs_in_lands_on_connections_and_signs_out(web: Web) -> None:
    email = await web.admin_email()
    await web.page.goto("/connections?tab=active")
    await expect(web.page).to_have_url(re.compile(r"/login\?next=%2Fconnections%3Ftab%3Dactive"))
    await web.screenshot("sign-in")
    await web.sign_in_here(email)
    await expect(web.page).to_have_url(re.compile(r"/connections\?tab=active$"))
    await expect(web.page.get_by_text(email)).to_be_visible()

    await web.sign_out()
    await expect(web.page).to_have_url(re.compile(r"/login$"))
    await web.page.goto("/connections")
    await expect(web.page).to_have_url(re.compile(r"/login\?next="))


async def test_a_wrong_password_is_refused_with_a_reason(web: Web) -> None:
    email = await web.admin_email()
    await web.page.goto("/login")
    await web.sign_in_here(email, "not the password")
    await expect(web.page.get_by_role("alert")).to_have_text(re.compile("do not match"))
    await expect(web.page.get_by_label("Email")).to_have_value(email)


async def test_after_a_refusal_the_password_field_has_the_cursor(web: Web) -> None:
    email = await web.admin_email()
    await web.page.goto("/login")
    await expect(web.page.get_by_label("Email")).to_be_focused()
    await web.sign_in_here(email, "not the password")
    await expect(web.page.get_by_label("Email")).to_have_value(email)
    await expect(web.page.get_by_label("Password")).to_be_focused()
    await web.page.keyboard.type(PASSWORD)
    await web.page.keyboard.press("Enter")
    await web.page.wait_for_url("**/connections*")


@pytest.fixture
async def braked(tether: Tether, browser: Browser) -> AsyncIterator[Web]:
    """A second Tether on the same database whose brake starts after three refusals and waits
    five seconds, so a test can see it slow down and wait it out."""
    changes = {"login_failures_per_email": 3, "login_delay_seconds": 5,
               "login_delay_max_seconds": 5}  # fmt: skip
    with alongside(tether, **changes) as slow:
        org = await create_org(slow.sessions, slow.base_url)
        context = await browser.new_context(base_url=slow.base_url)
        context.set_default_timeout(10_000)
        yield Web(slow, org, context, await context.new_page())
        await context.close()
        await org.api.aclose()


async def test_guessing_warns_then_slows_down_and_the_member_still_signs_in(braked: Web) -> None:
    web, page = braked, braked.page
    email = await web.admin_email()
    alert = page.get_by_role("alert")
    await page.goto("/login")
    await web.sign_in_here(email, "guess")
    await expect(alert).to_have_text(
        re.compile("do not match.*2 tries left before sign-ins for this email slow down")
    )
    await expect(page.get_by_label("Password")).to_be_focused()
    await web.sign_in_here(email, "guess")
    await expect(alert).to_have_text(re.compile("1 try left"))
    await web.sign_in_here(email, "guess")
    await expect(alert).to_have_text(re.compile("slowed down now: wait 5 seconds"))

    # A fresh form, the right password, too early: refused without a check, with the wait.
    await page.goto("/login")
    async with page.expect_response("**/login") as answer:
        await web.sign_in_here(email)
    response = await answer.value
    assert response.status == 429
    assert 0 < int(response.headers["retry-after"]) <= 5
    await expect(alert).to_have_text(re.compile(r"Wait \d seconds? before trying again"))
    await web.screenshot("sign-in-slowed-down")
    button = page.get_by_role("button", name="Sign in")
    await expect(button).to_be_disabled()
    await expect(page.get_by_label("Email")).to_have_value(email)

    await expect(button).to_be_enabled(timeout=15_000)
    await expect(page.get_by_role("status")).to_have_text("You can try again now.")
    await page.get_by_label("Password").fill(PASSWORD)
    await button.click()
    await page.wait_for_url("**/connections*")


async def test_an_early_attempt_gets_429_with_retry_after_and_the_wait_in_words(
    tether: Tether,
) -> None:
    async with httpx.AsyncClient(base_url=tether.base_url) as http:

        async def attempt() -> httpx.Response:
            form = await http.get("/login")
            csrf = form.cookies["tether_login_csrf"]
            body = {"email": "nobody@example.com", "password": "guess", "csrf_token": csrf}
            return await http.post("/login", data=body, headers={"Accept": "text/html"})

        # Time stands still, however long the password checks take on a busy machine.
        with time_machine.travel(utcnow(), tick=False):
            refused = [await attempt() for _ in range(tether.settings.login_failures_per_email)]
            early = await attempt()

    assert [r.status_code for r in refused] == [401] * len(refused)
    assert "retry-after" not in refused[-1].headers
    assert early.status_code == 429
    assert early.headers["retry-after"] == "2"
    assert "Wait 2 seconds before trying again." in early.text
    assert 'data-sign-in-wait="2"' in early.text


async def test_a_form_posted_from_another_site_is_refused(web: Web) -> None:
    """A signed-in member's browser, tricked into posting without the page's CSRF token."""
    await web.sign_in(await web.admin_email())
    client = await web.org.client("Acme")
    cookies = {c["name"]: c["value"] for c in await web.context.cookies()}
    async with httpx.AsyncClient(base_url=web.tether.base_url, cookies=cookies) as http:
        forged = await http.post(
            f"/connections/{client['id']}/disconnect", headers={"Accept": "text/html"}
        )
        sign_in_forged = await http.post(
            "/login", data={"email": "x@example.com", "password": "x"},
            headers={"Accept": "text/html"},
        )  # fmt: skip
    assert forged.status_code == 403
    assert "did not come from one of its own pages" in forged.text
    assert sign_in_forged.status_code == 403
    assert "Traceback" not in forged.text


async def test_a_session_cookie_is_httponly_and_only_its_digest_is_stored(web: Web) -> None:
    await web.sign_in(await web.admin_email())
    (cookie,) = [c for c in await web.context.cookies() if c["name"] == "tether_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    async with web.tether.sessions() as session:
        stored = (await session.scalars(select(WebSession.token_hash))).all()
    assert cookie["value"] not in stored
    assert len(stored) == 1


async def test_the_demo_admin_signs_in_at_once_with_the_printed_password(web: Web) -> None:
    async with web.tether.sessions() as session:
        login = await demo.seed(session, web.tether.settings)
        await session.commit()
    assert login is not None
    await web.sign_in(login.email, login.password)
    await expect(web.page.get_by_text(login.email)).to_be_visible()
    await expect(web.page.get_by_role("heading", name="Connections")).to_be_visible()


async def test_background_polling_does_not_keep_an_idle_session_alive(web: Web) -> None:
    await web.sign_in(await web.admin_email())
    cookies = {c["name"]: c["value"] for c in await web.context.cookies()}

    async def expiry() -> datetime:
        async with web.tether.sessions() as session:
            return (await session.scalars(select(WebSession.expires_at))).one()

    signed_in_until = await expiry()
    async with httpx.AsyncClient(base_url=web.tether.base_url, cookies=cookies) as http:
        with time_machine.travel(utcnow() + timedelta(hours=1)):
            polled = await http.get(
                "/notifications/bell", headers={"X-Tether-Background": "1", "HX-Request": "true"}
            )
            assert polled.status_code == 200
            assert await expiry() == signed_in_until
            used = await http.get("/connections", headers={"Accept": "text/html"})
            assert used.status_code == 200
            assert await expiry() > signed_in_until
        with time_machine.travel(utcnow() + timedelta(hours=40)):
            ended = await http.get("/connections", headers={"Accept": "text/html"})
    assert ended.status_code == 303
    assert ended.headers["location"].startswith("/login?next=")
