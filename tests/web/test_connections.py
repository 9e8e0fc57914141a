"""The Connections screen: lapsed first, sorting, filters, staff scoping and the row actions."""

import re

from playwright.async_api import Locator, expect

from tests.fixtures.browser import Web
from tests.fixtures.builders import connect_provider
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


async def test_the_client_filter_suggests_matching_names_a_staff_member_may_see(
    web: Web, connected: Connected
) -> None:
    for name in ("Northern Lights Spa", "Southnorth Books", "Hidden North Co"):
        await web.org.client(name)
    mine = [c["id"] for c in connected.clients] + [(await web.org.client("North Star Gym"))["id"]]
    email = await web.member("staff", clients=mine)
    await web.sign_in(email)

    await web.page.get_by_label("Client").press_sequentially("north")
    # Names that contain the words, by name, only of clients this member sees.
    options = web.page.locator("#client-options option")
    await expect(options).to_have_count(2)
    values = [await option.get_attribute("value") for option in await options.all()]
    assert values == ["North Star Gym", "Northwind Outfitters"]


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
    await expect(web.page.locator("#flash")).to_contain_text("queued to load its missing days")
    await expect(row.locator("td").nth(5)).to_have_text("—")  # queued: nothing loaded yet
    assert await connected.tether.run_queued_syncs() == 1
    # The flash follows the sync; when it finishes, the page shows what came in by itself.
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


async def _client_count(web: Web) -> int:
    response = await web.org.api.get("/api/v1/clients", params={"limit": 1})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


def _client_list(dialog: Locator) -> Locator:
    return dialog.get_by_label("Client", exact=True).locator("option")


async def test_the_dialog_lists_the_clients_and_connects_the_one_picked(
    web: Web, connected: Connected
) -> None:
    await web.org.client("Lumen Dental")
    before = await _client_count(web)
    await web.sign_in(await web.admin_email())
    await web.page.get_by_role("button", name="Connect a client").click()
    dialog = web.page.get_by_role("dialog", name="Connect a client")
    await expect(_client_list(dialog)).to_have_text(["Choose a client…", "Blue Fjord Coffee",
        "Lumen Dental", "Northwind Outfitters", "New client…"])  # fmt: skip
    await expect(dialog.get_by_label("New client's name")).to_be_hidden()
    await web.screenshot("connections-connect-a-client")

    # Blue Fjord Coffee joins Northwind Outfitters on its account.
    shared = connected.accounts[0]
    await web.pick_client(dialog, "Blue Fjord Coffee")
    await dialog.get_by_role("radio", name=re.compile(re.escape(shared["name"]))).check()
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await expect(web.page.locator("#flash")).to_contain_text(
        f"Blue Fjord Coffee is connected to {shared['name']}"
    )
    await expect(dialog).to_be_hidden()
    await expect(web.page.get_by_role("row", name=re.compile("Blue Fjord"))).to_have_count(2)
    assert await _client_count(web) == before
    rows = (await web.org.api.get("/api/v1/connections")).json()["data"]
    blue = connected.clients[1]["id"]
    assert {r["account_id"] for r in rows if r["client_id"] == blue} == {
        connected.accounts[1]["id"],
        shared["id"],
    }


async def test_the_dialog_opens_with_the_client_it_was_opened_for(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.evaluate(
        "htmx.ajax('GET', '/connections/new?client=Blue%20Fjord%20Coffee', '#dialog-slot')"
    )
    dialog = web.page.get_by_role("dialog", name="Connect a client")
    await expect(dialog.get_by_label("Client", exact=True)).to_have_value(
        connected.clients[1]["id"]
    )


async def test_the_chosen_client_stays_when_the_data_source_changes(
    web: Web, connected: Connected
) -> None:
    await connect_provider(web.org.api, "google_ads")
    await web.sign_in(await web.admin_email())
    await web.page.get_by_role("button", name="Connect a client").click()
    dialog = web.page.get_by_role("dialog", name="Connect a client")
    await web.pick_client(dialog, "Northwind Outfitters")
    legend = dialog.locator("legend")
    await expect(legend).to_have_text("Account of Google Ads")
    await dialog.get_by_label("Data source").select_option(label="Sandbox Ads")
    await expect(legend).to_have_text("Account of Sandbox Ads")
    await expect(dialog.get_by_label("Data source")).to_be_focused()
    chooser = dialog.get_by_label("Client", exact=True)
    await expect(chooser).to_have_value(connected.clients[0]["id"])

    # So does a new client's name, through a search for an account.
    await web.pick_client(dialog, "Lumen Dental", new=True)
    await dialog.get_by_label("Find an account").fill("zzz-no-such-account")
    await dialog.get_by_label("Find an account").press("Enter")
    await expect(dialog.get_by_text("No Sandbox Ads account matches.")).to_be_visible()
    await expect(chooser).to_have_value("new")
    await expect(dialog.get_by_label("New client's name")).to_have_value("Lumen Dental")


async def test_a_name_no_client_has_is_refused_unless_new_client_is_chosen(
    web: Web, connected: Connected
) -> None:
    # Enough clients that the dialog lists the first ones and offers a search.
    for number in range(1, 52):
        await web.org.client(f"Client {number:03}")
    before = await _client_count(web)
    await web.sign_in(await web.admin_email())
    await web.page.get_by_role("button", name="Connect a client").click()
    dialog = web.page.get_by_role("dialog", name="Connect a client")
    await expect(_client_list(dialog)).to_have_count(52)  # 50 clients, the prompt, New client
    await expect(dialog.get_by_text("3 more clients exist")).to_be_visible()
    await web.screenshot("connections-connect-a-client-many")

    search = dialog.get_by_label("Find a client")
    await search.fill("Nortwind")
    await expect(dialog.get_by_text("No client matches “Nortwind”.")).to_be_visible()
    await dialog.get_by_role("radio").first.check()
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await expect(dialog.get_by_role("alert")).to_have_text(
        "No client is called “Nortwind”. Pick one from the list, or choose New client."
    )
    await expect(dialog).to_be_visible()
    assert await _client_count(web) == before

    # The search finds the client beyond the first fifty; picking it connects it.
    await search.fill("northw")
    await expect(_client_list(dialog)).to_have_text(
        ["Choose a client…", "Northwind Outfitters", "New client…"]
    )
    await web.pick_client(dialog, "Northwind Outfitters")
    target = connected.accounts[1]
    await dialog.get_by_role("radio", name=re.compile(re.escape(target["name"]))).check()
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await expect(web.page.locator("#flash")).to_contain_text(
        f"Northwind Outfitters is connected to {target['name']}"
    )
    await expect(web.page.get_by_role("row", name=re.compile("Northwind"))).to_have_count(2)
    assert await _client_count(web) == before


async def test_new_client_adds_a_client_with_a_name_no_client_has(
    web: Web, connected: Connected
) -> None:
    before = await _client_count(web)
    await web.sign_in(await web.admin_email())
    account = connected.accounts[0]
    dialog = await web.connect_client("Lumen Dental", account=account["name"], new=True)
    await expect(web.page.locator("#flash")).to_contain_text("Lumen Dental is connected")
    await expect(dialog).to_be_hidden()
    await expect(web.page.get_by_role("row", name=re.compile("Lumen Dental"))).to_be_visible()
    assert await _client_count(web) == before + 1

    # Lumen Dental is on the list now; the same client and account again is refused.
    await web.connect_client("Lumen Dental", account=account["name"])
    await expect(dialog.get_by_role("alert")).to_contain_text("already connected")
    await expect(web.page.get_by_role("row", name=re.compile("Lumen Dental"))).to_have_count(1)

    # A blank name, or one that is an existing client's but for its letter case, adds nothing.
    await web.pick_client(dialog, "   ", new=True)
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await expect(dialog.get_by_role("alert")).to_have_text("Type the new client's name.")
    await web.pick_client(dialog, " northwind OUTFITTERS ", new=True)
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await expect(dialog.get_by_role("alert")).to_contain_text(
        "A client called “Northwind Outfitters” already exists"
    )
    assert await _client_count(web) == before + 1


async def test_staff_limited_to_some_clients_pick_only_from_those(
    web: Web, connected: Connected
) -> None:
    mine = connected.clients[0]
    await web.sign_in(await web.member("staff", clients=[mine["id"]]))
    await web.page.get_by_role("button", name="Connect a client").click()
    dialog = web.page.get_by_role("dialog", name="Connect a client")
    # Limited staff cannot add clients, so New client is not offered either.
    await expect(_client_list(dialog)).to_have_text(["Choose a client…", mine["name"]])
    await expect(dialog.get_by_label("New client's name")).to_have_count(0)
    await web.pick_client(dialog, mine["name"])
    target = connected.accounts[1]
    await dialog.get_by_role("radio", name=re.compile(re.escape(target["name"]))).check()
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await expect(web.page.locator("#flash")).to_contain_text(f"{mine['name']} is connected")
    await expect(web.page.locator("table.list tbody tr")).to_have_count(2)


async def test_a_first_visit_says_what_to_do_first(web: Web) -> None:
    await web.sign_in(await web.admin_email())

    empty = web.page.locator(".empty")
    await expect(empty).to_contain_text("No connections yet")
    await expect(empty.get_by_role("link", name="Connect a platform")).to_have_attribute(
        "href", "/sources"
    )
    await expect(empty).to_contain_text("Connect a client")
