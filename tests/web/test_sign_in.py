"""Signing in and out, the CSRF check on every form, and the brake on password guessing."""

import re
from datetime import datetime, timedelta

import httpx
import time_machine
from playwright.async_api import expect
from sqlalchemy import select

from tests.fixtures.browser import PASSWORD, Web
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


async def test_too_many_refusals_lock_the_email_even_with_the_right_password(web: Web) -> None:
    email = await web.admin_email()
    for _ in range(web.tether.settings.login_failures_per_email):
        await web.page.goto("/login")
        await web.sign_in_here(email, "guess")
        await expect(web.page.get_by_role("alert")).to_have_text(re.compile("do not match"))
    await web.page.get_by_label("Password").fill(PASSWORD)
    async with web.page.expect_response("**/login") as answer:
        await web.page.get_by_role("button", name="Sign in").click()
    response = await answer.value
    assert response.status == 429
    assert int(response.headers["retry-after"]) > 0
    await expect(web.page.get_by_role("alert")).to_have_text(re.compile("Too many"))


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
        login = await demo.seed(session)
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
