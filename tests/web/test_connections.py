"""The Connections screen: lapsed first, sorting, filters, staff scoping and the row actions."""

import re

from playwright.async_api import expect

from tests.fixtures.browser import Web
from tests.fixtures.connected import Connected


async def test_lapsed_connections_come_first_with_their_count_and_reason(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    tabs = web.page.get_by_role("navigation", name="Connection status")
    await expect(tabs.get_by_role("link", name="Needs reconnecting (0)")).to_be_visible()
    await expect(web.page.get_by_role("row")).to_have_count(3)  # header + both clients

    await connected.lapse()
    await web.page.reload()
    current = tabs.get_by_role("link", name=re.compile(r"Needs reconnecting \(2\)"))
    await expect(current).to_have_attribute("aria-current", "page")
    await expect(current).to_have_class("warn")
    table = web.page.get_by_role("table", name="Connections")
    await expect(table.get_by_text("Needs reconnecting")).to_have_count(2)
    await expect(table.get_by_text(re.compile("revoked", re.I)).first).to_be_visible()
    await expect(tabs.get_by_role("link", name="Active (0)")).to_be_visible()
    await web.screenshot("connections")


async def test_a_click_on_a_header_sorts_and_a_second_click_reverses(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    first_cells = web.page.locator("table.list tbody tr td:first-child")
    await expect(first_cells).to_have_text(["Blue Fjord Coffee", "Northwind Outfitters"])
    header = web.page.get_by_role("columnheader", name=re.compile("Client"))
    await expect(header).to_have_attribute("aria-sort", "ascending")
    await header.get_by_role("link").click()
    await expect(header).to_have_attribute("aria-sort", "descending")
    await expect(first_cells).to_have_text(["Northwind Outfitters", "Blue Fjord Coffee"])
    await web.page.get_by_role("columnheader", name="ID", exact=True).get_by_role("link").click()
    await expect(web.page).to_have_url(re.compile("sort=account_external_id"))


async def test_filters_narrow_the_list_and_name_an_unknown_client(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.get_by_label("Client").fill("Blue Fjord Coffee")
    await web.page.get_by_role("button", name="Filter").click()
    await expect(web.page.locator("table.list tbody tr")).to_have_count(1)
    await expect(web.page.get_by_role("link", name="All (1)")).to_be_visible()

    await web.page.get_by_label("Client").fill("Nobody Inc")
    await web.page.get_by_role("button", name="Filter").click()
    await expect(web.page.get_by_text("There is no client called “Nobody Inc”")).to_be_visible()

    await web.page.get_by_role("link", name="Clear filters").click()
    await web.page.get_by_label("Provider").select_option("google_ads")
    await web.page.get_by_role("button", name="Filter").click()
    await expect(web.page.get_by_text("No connections here.")).to_be_visible()


async def test_staff_see_only_their_clients(web: Web, connected: Connected) -> None:
    mine = connected.clients[0]
    email = await web.member("staff", clients=[mine["id"]])
    await web.sign_in(email)
    rows = web.page.locator("table.list tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text(mine["name"])
    await expect(web.page.get_by_role("link", name="All (1)")).to_be_visible()
    await expect(web.page.get_by_role("link", name="Settings")).to_have_count(0)


async def test_row_actions_disconnect_connect_again_switch_and_sync(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    row = web.page.get_by_role("row", name=re.compile("Northwind Outfitters"))
    web.page.once("dialog", lambda dialog: dialog.accept())
    await row.get_by_label(re.compile("Actions for Northwind")).click()
    await row.get_by_role("button", name="Disconnect").click()
    await expect(web.page.locator("#flash")).to_contain_text("is disconnected")
    await expect(row.get_by_text("Disconnected")).to_be_visible()

    await row.get_by_label(re.compile("Actions for Northwind")).click()
    await row.get_by_role("button", name="Connect again").click()
    await expect(row.get_by_text("Active")).to_be_visible()

    await row.get_by_label(re.compile("Actions for Northwind")).click()
    await row.get_by_role("button", name="Sync now").click()
    await expect(web.page.locator("#flash")).to_contain_text("days loaded")
    await expect(row.locator("td").nth(5)).not_to_have_text("—")

    target = connected.accounts[1]
    await row.get_by_label(re.compile("Actions for Northwind")).click()
    await row.get_by_role("button", name="Switch account").click()
    dialog = web.page.get_by_role("dialog", name=re.compile("Switch account"))
    await expect(dialog).to_be_visible()
    await dialog.get_by_label(re.compile(re.escape(target["name"]))).check()
    await dialog.get_by_role("button", name="Switch").click()
    await expect(web.page.locator("#flash")).to_contain_text(f"now uses {target['name']}")
    await expect(dialog).to_be_hidden()
    await expect(row.get_by_text(target["name"])).to_be_visible()
    response = await web.org.api.get(f"/api/v1/connections/{connected.connections[0]['id']}")
    assert response.json()["account_id"] == target["id"]


async def test_viewers_see_connections_without_actions(web: Web, connected: Connected) -> None:
    await web.sign_in(await web.member("viewer"))
    await expect(web.page.locator("table.list tbody tr")).to_have_count(2)
    await expect(web.page.locator("details.menu")).to_have_count(0)


async def test_the_screen_works_from_the_keyboard(web: Web, connected: Connected) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.keyboard.press("Tab")
    await expect(web.page.get_by_role("link", name="Skip to content")).to_be_focused()
    await web.page.keyboard.press("Enter")
    await expect(web.page.locator("main")).to_be_focused()
    # Tab on to the first row's menu, open it with Enter, leave it with Escape.
    menu = web.page.get_by_label(re.compile("Actions for Blue Fjord Coffee"))
    for _ in range(30):
        await web.page.keyboard.press("Tab")
        if await menu.evaluate("node => node === document.activeElement"):
            break
    await expect(menu).to_be_focused()
    await web.page.keyboard.press("Enter")
    first_action = web.page.get_by_role("row", name=re.compile("Blue Fjord")).get_by_role(
        "button", name="Reconnect"
    )
    await expect(first_action).to_be_visible()
    await web.page.keyboard.press("Escape")
    await expect(first_action).to_be_hidden()
    await expect(menu).to_be_focused()


async def test_a_client_is_connected_to_an_account_from_the_dialog(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.get_by_role("button", name="Connect a client").click()
    dialog = web.page.get_by_role("dialog", name="Connect a client")
    await dialog.get_by_label("Client", exact=True).fill("Lumen Dental")
    account = connected.accounts[0]
    await dialog.get_by_label(re.compile(re.escape(account["name"]))).check()
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await expect(web.page.locator("#flash")).to_contain_text("Lumen Dental is connected")
    await expect(dialog).to_be_hidden()
    await expect(web.page.get_by_role("row", name=re.compile("Lumen Dental"))).to_be_visible()

    # The same client and account again: refused with the reason, nothing added.
    await web.page.get_by_role("button", name="Connect a client").click()
    await dialog.get_by_label("Client", exact=True).fill("Lumen Dental")
    await dialog.get_by_label(re.compile(re.escape(account["name"]))).check()
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await expect(web.page.get_by_role("alert")).to_contain_text("already connected")
    await expect(web.page.get_by_role("row", name=re.compile("Lumen Dental"))).to_have_count(1)


async def test_a_first_visit_says_what_to_do_first(web: Web) -> None:
    await web.sign_in(await web.admin_email())

    empty = web.page.locator(".empty")
    await expect(empty).to_contain_text("No connections yet")
    await expect(empty.get_by_role("link", name="Connect a platform")).to_have_attribute(
        "href", "/sources"
    )
    await expect(empty).to_contain_text("Connect a client")
