"""A declared provider without a report, as members see it: watched, never loaded, and said so
on the screens rather than shown as days missing."""

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from tests.fixtures.browser import Web, browser
from tests.fixtures.builders import Org
from tests.fixtures.running import Tether
from tests.providers.custom.steps import connect_acme, connection_of

__all__ = ["browser"]


@pytest.fixture
async def web(tether: Tether, org: Org, browser: Browser) -> AsyncIterator[Web]:
    context = await browser.new_context(base_url=tether.base_url)
    context.set_default_timeout(10_000)
    yield Web(tether, org, context, await context.new_page())
    await context.close()


async def test_a_source_without_a_report_says_it_has_no_daily_loads(web: Web) -> None:
    authorization_id = await connect_acme(web.org.api, "acme_directory")
    await connection_of(web.org, authorization_id, "Northwind Outfitters")
    await web.sign_in(await web.admin_email())

    await web.page.goto("/sources")
    card = web.page.get_by_role("article", name="Acme Directory", exact=True)
    await expect(card).to_contain_text("No daily loads")

    await web.page.goto("/coverage")
    row = web.coverage_row("Northwind Outfitters")
    await expect(row).to_contain_text("No daily loads")
    await expect(row.locator("button.day")).to_have_count(0)  # no gap to explain
    await expect(web.coverage_stat("Connections with gaps")).to_have_text("0")
    await web.screenshot("coverage-without-daily-loads")
