"""The whole loop, as a newcomer goes through it on an embedded Tether whose scheduler and worker
do the background work by themselves: connect, attach clients, lapse, get told, reconnect from
the notification, and see the missed days come back."""

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
import time_machine
from playwright.async_api import Browser, Locator, Page, expect

from tests.fixtures.browser import Web
from tests.fixtures.builders import create_org
from tests.fixtures.running import Tether
from tether.db import utcnow


@pytest.fixture
async def newcomer(live: Tether, browser: Browser) -> AsyncIterator[Web]:
    org = await create_org(live.sessions, live.base_url)
    context = await browser.new_context(
        base_url=live.base_url, viewport={"width": 1360, "height": 900}
    )
    context.set_default_timeout(15_000)
    web = Web(live, org, context, await context.new_page())
    yield web
    await context.close()
    await org.api.aclose()


async def _until(page: Page, check: Callable[[], Awaitable[bool]], *, tries: int = 60) -> None:
    """Reload until the background work shows on the page (it does not push to the browser)."""
    for _ in range(tries):
        if await check():
            return
        await page.wait_for_timeout(500)
        await page.reload()
    raise AssertionError(f"{page.url} never showed what was expected.")


# The sandbox's own platform, and Google Ads as the sandbox shows it in Google's dialect.
@pytest.mark.parametrize("provider", ["Sandbox Ads", "Google Ads"])
async def test_a_newcomer_goes_round_the_whole_loop(newcomer: Web, provider: str) -> None:
    web, page = newcomer, newcomer.page
    nav = page.get_by_role("navigation", name="Main")
    await web.sign_in(await web.admin_email())

    # Connect the platform: its sign-in opens in a pop-up that closes itself.
    await nav.get_by_role("link", name="Data sources").click()
    await web.consent_in_popup(page.get_by_role("button", name=f"Connect {provider}", exact=True))
    await expect(
        page.get_by_role("button", name=f"Connection settings for {provider}")
    ).to_be_visible()

    # Two of the organization's clients report from the same account.
    for client in ("Northwind Outfitters", "Blue Fjord Coffee"):
        await web.org.client(client)
    await nav.get_by_role("link", name="Connections").click()
    for client in ("Northwind Outfitters", "Blue Fjord Coffee"):
        dialog = await web.connect_client(client)
        await expect(page.locator("#flash")).to_contain_text(f"{client} is connected")
        await expect(dialog).to_be_hidden()
    await expect(page.get_by_role("link", name="All (2)")).to_be_visible()

    # The worker loads their history by itself.
    await nav.get_by_role("link", name="Coverage").click()
    rows = page.get_by_role("table", name="Coverage").locator("tbody tr")
    await _until(page, lambda: _loaded_everywhere(rows))
    shot = provider.lower().replace(" ", "-")
    await web.screenshot(f"loop-1-loaded-{shot}")

    # Make the grant lapse with the sandbox's switch, and let Tether check it.
    await nav.get_by_role("link", name="Settings").click()
    await page.get_by_role("link", name="Sandbox").click()
    await page.get_by_role("button", name="Revoke access").click()
    # The revoke has landed before the check is asked for (a click sent while the revoke's
    # answer is on its way may be checked first, and find the grant still working).
    await expect(page.locator("#flash")).to_contain_text("revoked the access")
    await page.get_by_role("button", name="Check now").first.click()
    await expect(page.locator("#flash")).to_contain_text(re.compile("reconnect", re.I))

    await nav.get_by_role("link", name="Connections").click()
    bell = page.get_by_role("button", name=re.compile(r"^Notifications, [1-9]\d* unread"))
    await expect(bell.locator(".dot")).to_be_visible()
    tab = page.get_by_role("link", name=re.compile(r"Needs reconnecting \(2\)"))
    await expect(tab).to_have_attribute("aria-current", "page")
    await web.screenshot(f"loop-2-lapsed-{shot}")
    lapsed_on = utcnow().date()

    # Three days pass. The member comes back, signs in again, and sees what the lapse cost.
    with time_machine.travel(utcnow() + timedelta(days=3), tick=True):
        await page.goto("/coverage")
        await web.sign_in_here(await web.admin_email())
        north = web.coverage_row("Northwind Outfitters")
        gap = north.locator("button.day.incident")
        first = lapsed_on + timedelta(days=1)  # a run of days: one mark, named by its range
        dash = "\N{EN DASH}"
        await expect(gap.first).to_have_accessible_name(
            re.compile(f"^{first:%-d %b}( {first:%Y}| {dash} [^:]+): missing during")
        )
        await web.screenshot(f"loop-3-gap-{shot}")

        # Reconnect from the notification, approving in the pop-up.
        await bell.click()
        panel = page.get_by_role("region", name="Latest notifications")
        await web.consent_in_popup(panel.get_by_role("button", name="Reconnect").first)

        # Both clients are back, and the worker backfills the days the lapse missed.
        await page.goto("/connections?tab=active")
        await expect(page.get_by_role("link", name="Active (2)")).to_be_visible()
        await expect(page.get_by_role("link", name="Needs reconnecting (0)")).to_be_visible()
        await page.goto("/coverage")
        await _until(page, lambda: _loaded_everywhere(rows))
        await expect(web.coverage_stat("Lapsed accounts")).to_have_text("0")
        await web.screenshot(f"loop-4-backfilled-{shot}")


async def _loaded_everywhere(rows: Locator) -> bool:
    """Every row's strip is loaded up to yesterday: no gap left to click."""
    return await rows.count() == 2 and await rows.locator("button.day").count() == 0
