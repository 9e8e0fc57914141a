"""A provider Tether knows but this installation has no credentials for: its card says so, and
explains what to register where, with this installation's own redirect URI."""

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from tests.fixtures.browser import Web
from tests.fixtures.builders import create_org
from tests.fixtures.running import Tether, alongside


@pytest.fixture
async def unconfigured(tether: Tether, browser: Browser) -> AsyncIterator[Web]:
    """A second Tether on the same database, with no platform credentials and no stand-ins."""
    with alongside(tether, sandbox_stands_in_for="") as plain:
        org = await create_org(plain.sessions, plain.base_url)
        context = await browser.new_context(base_url=plain.base_url)
        context.set_default_timeout(10_000)
        yield Web(plain, org, context, await context.new_page())
        await context.close()
        await org.api.aclose()


async def test_an_unset_provider_explains_how_to_set_it_up(unconfigured: Web) -> None:
    web, page = unconfigured, unconfigured.page
    await web.sign_in(await web.admin_email())
    await page.goto("/sources")
    google = page.get_by_role("article", name="Google Ads", exact=True)
    await expect(google).to_contain_text("Needs setting up")
    await expect(google.get_by_role("button", name="Connect Google Ads")).to_have_count(0)

    await google.get_by_role("button", name="How to set up Google Ads").click()
    dialog = page.get_by_role("dialog", name="Set up Google Ads")
    await expect(dialog).to_be_visible()
    redirect = dialog.get_by_label("Redirect URI to register")
    await expect(redirect).to_have_value(f"{web.tether.base_url}/oauth/callback")
    await expect(dialog).to_contain_text("https://www.googleapis.com/auth/adwords")
    for name in ("CLIENT_ID", "CLIENT_SECRET", "DEVELOPER_TOKEN"):
        await expect(dialog).to_contain_text(f"TETHER_PROVIDERS__GOOGLE__{name}")
    await web.screenshot("provider-setup")
    await dialog.get_by_role("button", name="Close").last.click()
    await expect(dialog).to_be_hidden()

    # A tool connected with a key needs nothing registered: it connects as it is.
    callrail = page.get_by_role("article", name="CallRail", exact=True)
    await expect(callrail.get_by_role("button", name="Connect CallRail")).to_be_visible()


async def test_the_api_names_the_settings_a_provider_still_needs(unconfigured: Web) -> None:
    response = await unconfigured.org.api.get("/api/v1/providers/meta_ads")

    assert response.status_code == 200
    found = response.json()
    assert found["available"] is False
    assert found["daily_loads"] is True
    assert found["setup"]["missing"] == [
        "TETHER_PROVIDERS__META__CLIENT_ID",
        "TETHER_PROVIDERS__META__CLIENT_SECRET",
    ]
    assert found["setup"]["redirect_uri"] == f"{unconfigured.tether.base_url}/oauth/callback"
    assert "ads_read" in found["setup"]["scopes"]
    assert found["setup"]["lifetimes"]["refreshable"] is False
    refused = await unconfigured.org.api.post(
        "/api/v1/authorizations/oauth/start", json={"provider": "meta_ads"}
    )
    assert refused.status_code == 422
    assert "credentials are not set" in refused.json()["error"]["message"]
