"""Every main screen is reachable and usable without a mouse."""

import re

from playwright.async_api import Locator, Page, expect

from tests.fixtures.browser import Web
from tests.fixtures.connected import Connected

SCREENS = (
    ("Data sources", "/sources", "Data sources"),
    ("Connections", "/connections", "Connections"),
    ("Integrations", "/integrations", "Integrations"),
    ("Coverage", "/coverage", "Coverage"),
    ("Incidents", "/incidents", "Incidents"),
    ("Audit log", "/audit", "Audit log"),
    ("Settings", "/settings/members", "Settings"),
)


async def _tab_to(page: Page, name: str) -> None:
    """Press Tab until the link of this name has the focus, as a keyboard user would."""
    for _ in range(40):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(
            "document.activeElement && document.activeElement.textContent"
        )
        if focused and focused.strip() == name:
            return
    raise AssertionError(f"Tab never reached {name!r}.")


async def test_each_main_screen_opens_from_the_keyboard(web: Web, connected: Connected) -> None:
    await web.sign_in(await web.admin_email())
    for link, path, heading in SCREENS:
        await _tab_to(web.page, link)
        await web.page.keyboard.press("Enter")
        await expect(web.page).to_have_url(re.compile(re.escape(path)))
        await expect(web.page.get_by_role("heading", level=1)).to_have_text(heading)
        focused = web.page.get_by_role("navigation", name="Main").get_by_role("link", name=link)
        await expect(focused).to_have_attribute("aria-current", "page")


async def test_a_dialog_opens_from_the_keyboard_and_escape_closes_it(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    await _tab_to(web.page, "Connect a client")
    await web.page.keyboard.press("Enter")
    dialog = web.page.get_by_role("dialog", name="Connect a client")
    await expect(dialog).to_be_visible()
    await web.page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()


async def test_a_client_is_connected_from_the_keyboard(web: Web, connected: Connected) -> None:
    await web.sign_in(await web.admin_email())
    await _tab_to(web.page, "Connect a client")
    await web.page.keyboard.press("Enter")
    dialog = web.page.get_by_role("dialog", name="Connect a client")
    # The client list comes first; an arrow key picks from it, as in any list box.
    await _tab_until(web.page, dialog.get_by_label("Client", exact=True))
    await web.page.keyboard.press("ArrowDown")
    await expect(dialog.get_by_label("Client", exact=True)).to_have_value(
        connected.clients[1]["id"]  # Blue Fjord Coffee, the first by name
    )
    await _tab_until(web.page, dialog.get_by_role("radio").first)
    await web.page.keyboard.press("Space")
    await _tab_until(web.page, dialog.get_by_role("button", name="Connect", exact=True))
    await web.page.keyboard.press("Enter")
    await expect(web.page.locator("#flash")).to_contain_text("Blue Fjord Coffee is connected")
    await expect(dialog).to_be_hidden()


async def _tab_until(page: Page, target: Locator) -> None:
    """Press Tab until this element has the focus."""
    for _ in range(20):
        await page.keyboard.press("Tab")
        if await target.evaluate("node => node === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}.")
