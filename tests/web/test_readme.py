"""The README's first five minutes, word for word, on `tether serve` started as `make run` starts
it: the web walk at a laptop's width and a phone's, and then the API section after it.

The web walk at 1280 px saves the screenshots the README shows (docs/screenshots), so its
pictures are always the app as it is.
"""

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.fixtures.browser import SCREENSHOTS, consent_in_popup, expect_days
from tests.fixtures.embedded import Embedded, serving
from tether.demo.lapse import LAPSED_DAYS_AGO
from tether.providers.catalog import CATALOG

README_SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
LAPTOP, PHONE = 1280, 390
# Step 2's clients and the accounts the README names for them.
CLIENTS = {
    "Northwind Outfitters": "Northwind Outfitters — Display",
    "Atlas Home Insurance": "Atlas Home Insurance — Shopping",
}
LOADS = 90_000  # ms: the worker loads 90 days per connection, on a busy machine


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    with serving(tmp_path / "data") as running:
        yield running


@pytest.fixture
async def walker(
    embedded: Embedded, browser: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[Page]:
    width = getattr(request, "param", LAPTOP)
    context = await browser.new_context(
        base_url=embedded.base_url, viewport={"width": width, "height": 900 if width > 600 else 844}
    )
    context.set_default_timeout(15_000)
    yield await context.new_page()
    await context.close()


async def _shot(page: Page, name: str, *, readme: bool) -> None:
    """Into the README's pictures, or beside the other test screenshots."""
    folder = README_SHOTS if readme else SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=folder / f"{name}.png", full_page=True)


async def _go(page: Page, screen: str) -> None:
    """Open a screen from the main navigation; on a phone, it is behind the Menu button."""
    menu = page.get_by_role("button", name="Menu")
    if await menu.is_visible():
        await menu.click()
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=screen).click()


def _coverage_row(page: Page, client: str) -> Locator:
    return page.locator("#coverage tbody tr", has_text=client)


async def _walk_the_web(page: Page, embedded: Embedded, *, shots: str | None) -> None:
    """The README's walk: sign in, then steps 1 to 5. `shots` names the screenshots: "readme"
    for the README's own, "phone" for the narrow ones, None for none."""
    email, password, _ = embedded.demo_login()

    async def shot(name: str, *, in_readme: bool = True) -> None:
        if shots == "readme":
            await _shot(page, name, readme=in_readme)
        elif shots == "phone":
            await _shot(page, f"phone-{name}", readme=in_readme and name == "connections")

    # Sign in: Connections opens on the demo's own lapse.
    await page.goto("/")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/connections*")
    lapsed_tab = page.get_by_role("link", name="Needs reconnecting (1)")
    await expect(lapsed_tab).to_have_attribute("aria-current", "page")
    await expect(page.locator("#connections")).to_contain_text("Lumen Skincare")

    # 1. Data sources: every platform's card connects (the sandbox stands in for each), then
    # Connect on Sandbox Ads, as alice, in a pop-up.
    await _go(page, "Data sources")
    await expect(page.locator(".grid-cards article")).to_have_count(len(CATALOG))
    for info in CATALOG:
        await expect(
            page.get_by_role("button", name=f"Connect {info.name}", exact=True)
        ).to_be_visible()
    await expect(page.get_by_text("Needs setting up")).to_have_count(0)
    await shot("data-sources")
    await consent_in_popup(page, page.get_by_role("button", name="Connect Sandbox Ads", exact=True))
    settings = page.get_by_role("button", name="Connection settings for Sandbox Ads")
    await expect(settings).to_be_visible()
    await settings.click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("2 authorizations")
    await shot("connection-settings")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()

    # 2. Connections → Connect a client, twice; Coverage fills in by itself.
    await _go(page, "Connections")
    for client, account in CLIENTS.items():
        await page.get_by_role("button", name="Connect a client").click()
        connect = page.get_by_role("dialog", name="Connect a client")
        await connect.get_by_label("Client", exact=True).select_option(label=client)
        await connect.get_by_role("radio", name=re.compile(re.escape(account))).check()
        await connect.get_by_role("button", name="Connect", exact=True).click()
        await expect(page.locator("#flash")).to_contain_text(f"{client} is connected")
        await expect(connect).to_be_hidden()
    await _go(page, "Coverage")
    for client in CLIENTS:  # loaded while the page is open: it looks again by itself
        await expect(_coverage_row(page, client).locator("button.day")).to_have_count(
            0, timeout=LOADS
        )
    await expect_days(
        _coverage_row(page, "Lumen Skincare").locator("button.day.incident"), LAPSED_DAYS_AGO
    )

    # 3. Settings → Sandbox → Revoke access on Alice Martin's card, then Check now.
    await _go(page, "Settings")
    await page.get_by_role("link", name="Sandbox", exact=True).click()
    card = page.get_by_role("region", name="Alice Martin Sandbox Ads")
    await card.get_by_role("button", name="Revoke access").click()
    await page.locator("#flash").get_by_role("button", name="Check now").click()
    await expect(page.locator("#flash")).to_contain_text("Needs reconnecting")
    await _go(page, "Connections")
    bell = page.get_by_role("button", name=re.compile(r"^Notifications, [1-9]\d* unread"))
    await expect(bell.locator(".dot")).to_be_visible()
    tab = page.get_by_role("link", name="Needs reconnecting (3)")
    await expect(tab).to_have_attribute("aria-current", "page")
    incidents = await _api(embedded).get("/incidents", params={"state": "open"})
    assert len(incidents.json()["data"]) == 2  # bob's from the start, and alice's now
    await _until_mailed(embedded, "Northwind Outfitters")
    await shot("connections")

    # 4. The bell, then Reconnect in alice's notification: one sign-in brings both back.
    await bell.click()
    panel = page.get_by_role("list", name="Latest notifications")
    alices = panel.get_by_role("listitem").filter(has_text="Northwind Outfitters")
    await expect(alices).to_have_count(1)
    await shot("notifications-panel")
    await consent_in_popup(page, alices.get_by_role("button", name="Reconnect"))
    await expect(page.get_by_role("link", name="Needs reconnecting (1)")).to_be_visible()
    await bell.click()  # the bell closes its panel
    await expect(panel).to_be_hidden()

    # 5. Coverage: Lumen Skincare's red days; Reconnect as bob; they turn green as you watch.
    await _go(page, "Coverage")
    lumen = _coverage_row(page, "Lumen Skincare")
    red = lumen.locator("button.day.incident")
    await expect_days(red, LAPSED_DAYS_AGO)
    await shot("coverage")
    await red.first.click()
    gap = page.get_by_role("dialog")
    await expect(gap).to_contain_text("Lumen Skincare")
    await consent_in_popup(page, gap.get_by_role("button", name="Reconnect"), "bob")
    await expect(lumen.locator("button.day")).to_have_count(0, timeout=LOADS)
    await expect(lumen).to_contain_text("Active")
    await expect(page.get_by_role("region", name="Lapsed accounts").locator(".stat")).to_have_text(
        "0"
    )
    await shot("coverage-backfilled")


async def _until_mailed(embedded: Embedded, client: str) -> None:
    """The connector's email naming this client lands in the outbox (the worker sends it)."""
    outbox = embedded.data_dir / "outbox"
    for _ in range(120):
        if any(client in mail.read_text() for mail in outbox.glob("*.eml")):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"no email naming {client} in {outbox}")


def _api(embedded: Embedded) -> httpx.AsyncClient:
    """The README's `api` shell function: the demo's token, JSON, under /api/v1."""
    _, _, token = embedded.demo_login()
    return httpx.AsyncClient(
        base_url=f"{embedded.base_url}/api/v1",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )


@pytest.mark.parametrize("walker", [LAPTOP, PHONE], indirect=True, ids=["1280px", "390px"])
async def test_the_readme_walk_in_a_browser(
    walker: Page, embedded: Embedded, request: pytest.FixtureRequest
) -> None:
    wide = walker.viewport_size is not None and walker.viewport_size["width"] == LAPTOP
    await _walk_the_web(walker, embedded, shots="readme" if wide else "phone")
    if not wide:  # nothing spills sideways on a phone, at any step's end
        overflow = await walker.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0


async def _sign_in_in_browser(page: Page, authorize_url: str, username: str) -> str:
    """`open it in a browser, sign in, press Allow`: what Tether's page then says."""
    await page.goto(authorize_url)
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(f"{username}-password")
    await page.get_by_role("button", name=re.compile("^(Allow|Continue)$")).click()
    await page.wait_for_url("**/oauth/callback*")
    return await page.locator("main").inner_text()


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_the_readme_api_section_after_the_web_walk(walker: Page, embedded: Embedded) -> None:
    await _walk_the_web(walker, embedded, shots=None)
    control = httpx.AsyncClient(base_url=f"{embedded.base_url}/sandbox/control", timeout=30)
    async with _api(embedded) as api, control:
        # The catalog, with each provider's auth kind.
        providers = {p["key"]: p for p in (await _ok(await api.get("/providers")))["data"]}
        assert {"sandbox", "google_ads", "meta_ads"} <= providers.keys()
        assert providers["sandbox"]["auth_kind"] == "oauth2"

        # Signing in as alice again renews her data source rather than adding a second one.
        before = await _ok(await api.get("/authorizations", params={"provider": "sandbox"}))
        started = await _ok(
            await api.post("/authorizations/oauth/start", json={"provider": "sandbox"})
        )
        assert started["authorize_url"].startswith(f"{embedded.base_url}/sandbox/oauth/authorize?")
        said = await _sign_in_in_browser(walker, started["authorize_url"], "alice")
        assert "already connected as Alice Martin" in said
        listed = await _ok(await api.get("/authorizations", params={"provider": "sandbox"}))
        assert listed["total"] == before["total"] == 2  # alice's and bob's
        by_user = {a["external_user_name"]: a for a in listed["data"]}
        alice, bob = by_user["Alice Martin"], by_user["Bob Okafor"]
        assert (alice["role"], alice["status"], alice["account_count"]) == ("main", "active", 9)
        assert alice["connector"]["email"] == embedded.demo_login()[0]

        accounts = (await _ok(await api.get(f"/authorizations/{alice['id']}/accounts")))["data"]
        assert {"name", "external_id", "created_at", "last_synced_at"} <= accounts[0].keys()
        clients = await _ok(await api.get("/clients"))
        assert clients["total"] == 6
        harbor = next(c for c in clients["data"] if c["name"] == "Harbor & Pine Dental")
        body = {"client_id": harbor["id"], "provider": "sandbox", "external_id": "1000007"}
        await _ok(await api.post("/connections", json=body), 201)
        active = await _ok(
            await api.get(
                "/connections", params={"status": "active", "sort": "-account_name", "limit": 20}
            )
        )
        names = [c["account_name"] for c in active["data"]]
        assert len(names) == 4
        assert names == sorted(names, reverse=True)
        counts = await _ok(await api.get("/connections/counts"))
        assert (counts["active"], counts["total"]) == (4, 4)

        # Make it lapse.
        await _ok(await control.post("/users/alice/grants/revoke"))
        checked = await _ok(await api.post(f"/authorizations/{alice['id']}/check"))
        assert (checked["status"], checked["reason"]) == ("needs_reconnect", "token_revoked")
        (incident,) = (await _ok(await api.get("/incidents", params={"state": "open"})))["data"]
        affected = {c["name"] for c in incident["affected_clients"]}
        assert affected == {*CLIENTS, "Harbor & Pine Dental"}
        assert (await _ok(await api.get("/audit")))["data"]
        await _ok(await control.put("/faults", json={"down": True}))
        down = await _ok(await api.post(f"/authorizations/{alice['id']}/check"))
        assert down["status"] == "needs_reconnect"
        await _ok(await control.delete("/faults"))

        # One sign-in brings every client back.
        again = await _ok(await api.post(f"/authorizations/{alice['id']}/reconnect"))
        said = await _sign_in_in_browser(walker, again["authorize_url"], "alice")
        assert "3 connections restored" in said
        again = await _ok(await api.post(f"/authorizations/{bob['id']}/reconnect"))
        await _sign_in_in_browser(walker, again["authorize_url"], "bob")
        counts = await _ok(await api.get("/connections/counts"))
        assert (counts["active"], counts["needs_reconnect"], counts["total"]) == (4, 0, 4)
        assert (await _ok(await api.get("/incidents", params={"state": "open"})))["data"] == []
        lumen = next(c for c in clients["data"] if c["name"] == "Lumen Skincare")
        (coverage,) = (await _ok(await api.get("/coverage", params={"client_id": lumen["id"]})))[
            "data"
        ]
        assert coverage["missing"] == []

        # An API-key tool connects with carol's key.
        users = await _ok(await control.get("/users"))
        key = next(u for u in users if u["username"] == "carol")["api_key"]
        body = {"provider": "sandbox_api_key", "api_key": key}
        connected = await _ok(await api.post("/authorizations", json=body), 201)
        assert connected["external_user_name"] == "Carol Nguyen"
