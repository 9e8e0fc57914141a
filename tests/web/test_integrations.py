"""The Integrations screen: accounts with the clients using them, sorting, filters, a row's
clients and their settings, and deleting an authorization no client uses."""

import re
from typing import Any

from playwright.async_api import expect

from tests.fixtures.browser import Web
from tests.fixtures.builders import connect_sandbox
from tests.fixtures.connected import Connected


async def _use_twice(connected: Connected) -> None:
    """A third client on the first account: it is used by two clients, the second by one."""
    client = await connected.org.client("Lumen Dental")
    body = {"client_id": client["id"], "account_id": connected.accounts[0]["id"]}
    response = await connected.org.api.post("/api/v1/connections", json=body)
    assert response.status_code == 201, response.text


async def _unused_account(connected: Connected) -> dict[str, Any]:
    """An account of Alice's grant that no client uses."""
    listed = await connected.org.api.get(f"/api/v1/authorizations/{connected.id}/accounts")
    used = {a["id"] for a in connected.accounts}
    return next(a for a in listed.json()["data"] if a["id"] not in used)


async def test_integrations_sort_by_clients_and_filter_by_status(
    web: Web, connected: Connected
) -> None:
    await _use_twice(connected)
    await connected.remove_access(1)
    await web.sign_in(await web.admin_email())
    await web.page.goto("/integrations")
    table = web.page.get_by_role("table", name="Integrations")
    await expect(table).to_be_visible()
    label = web.page.get_by_role("columnheader", name=re.compile("Label"))
    await expect(label).to_have_attribute("aria-sort", "ascending")

    clients = web.page.get_by_role("columnheader", name=re.compile("Clients using it"))
    await clients.get_by_role("link").click()
    await expect(clients).to_have_attribute("aria-sort", "ascending")
    await clients.get_by_role("link").click()
    await expect(clients).to_have_attribute("aria-sort", "descending")
    await expect(web.page).to_have_url(re.compile(r"sort=-clients"))
    counts = web.page.locator("table.list tbody tr td:nth-child(4)")
    await expect(counts.nth(0)).to_have_text("2")
    await expect(counts.nth(1)).to_have_text("1")
    await expect(counts.nth(2)).to_have_text("0")
    first = web.page.locator("table.list tbody tr").first
    await expect(first).to_contain_text(connected.accounts[0]["name"])
    await expect(first).to_contain_text(connected.accounts[0]["external_id"])
    await expect(first).to_contain_text("Active")
    await web.screenshot("integrations")

    await web.page.get_by_label("Status").select_option("needs_reconnect")
    await web.page.get_by_role("button", name="Filter").click()
    rows = web.page.locator("table.list tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text(connected.accounts[1]["name"])
    await expect(rows).to_contain_text("Needs reconnecting")
    # The sort chosen before survives the filter.
    await expect(clients).to_have_attribute("aria-sort", "descending")
    await expect(web.page.get_by_label("Status")).to_have_value("needs_reconnect")

    await web.page.get_by_label("Provider").select_option("google_ads")
    await web.page.get_by_role("button", name="Filter").click()
    await expect(web.page.get_by_text("No account matches these filters.")).to_be_visible()


async def test_a_row_opens_the_clients_using_the_account_with_their_settings(
    web: Web, connected: Connected
) -> None:
    await _use_twice(connected)
    await connected.remove_access(0)
    await web.sign_in(await web.admin_email())
    await web.page.goto("/integrations")
    account = connected.accounts[0]
    row = web.page.get_by_role("row", name=re.compile(re.escape(account["name"])))
    # A click anywhere on the row opens it, not only on its link.
    await row.locator("td").nth(1).click()
    await expect(web.page).to_have_url(re.compile(f"/integrations/{account['id']}$"))
    await expect(web.page.get_by_role("heading", name=account["name"])).to_be_visible()
    clients = web.page.get_by_role("table", name="Clients using this account")
    await expect(clients.get_by_role("row")).to_have_count(3)  # header + two clients
    lumen = clients.get_by_role("row", name=re.compile("Lumen Dental"))
    await expect(lumen.get_by_text("Needs reconnecting")).to_be_visible()
    await expect(lumen.locator(".error-text")).to_contain_text(account["name"])
    await expect(lumen.get_by_role("button", name=re.compile("Reconnect"))).to_be_visible()
    await expect(lumen.get_by_role("button", name=re.compile("Switch account"))).to_be_visible()
    await web.screenshot("integration-clients")

    web.page.once("dialog", lambda dialog: dialog.accept())
    await lumen.get_by_role("button", name=re.compile("Disconnect")).click()
    await expect(web.page.locator("#flash")).to_contain_text("Lumen Dental is disconnected")
    await expect(lumen.get_by_text("Disconnected", exact=True)).to_be_visible()
    await expect(lumen.get_by_role("button", name=re.compile("Reconnect"))).to_have_count(0)
    await lumen.get_by_role("button", name=re.compile("Connect .* again")).click()
    await expect(lumen.get_by_text("Needs reconnecting")).to_be_visible()

    await lumen.get_by_role("button", name=re.compile("Switch account")).click()
    dialog = web.page.get_by_role("dialog", name=re.compile("Switch account for Lumen Dental"))
    await expect(dialog).to_be_visible()
    target = await _unused_account(connected)
    await dialog.get_by_label(re.compile(re.escape(target["name"]))).check()
    await dialog.get_by_role("button", name="Switch").click()
    await expect(web.page.locator("#flash")).to_contain_text(f"now uses {target['name']}")
    # It no longer uses this account, so it leaves the list.
    await expect(clients.get_by_role("row")).to_have_count(2)


async def test_delete_shows_only_for_unused_accounts_and_is_refused_while_in_use(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/integrations")
    used = web.page.get_by_role("row", name=re.compile(re.escape(connected.accounts[0]["name"])))
    await expect(used.get_by_role("button", name=re.compile("Delete"))).to_have_count(0)
    spare = await _unused_account(connected)
    unused = web.page.get_by_role("row", name=re.compile(re.escape(spare["name"])))
    delete = unused.get_by_role("button", name=re.compile("Delete"))
    await expect(delete).to_have_css("opacity", "0")
    await unused.hover()
    await expect(delete).to_have_css("opacity", "1")

    # Alice's authorization still serves the two clients' accounts: refused, with the reason.
    web.page.once("dialog", lambda dialog: dialog.accept())
    await delete.click()
    alert = web.page.get_by_role("alert")
    await expect(alert).to_contain_text("still used by Blue Fjord Coffee and Northwind Outfitters")
    await expect(unused).to_be_visible()


async def test_an_unused_authorization_is_deleted_with_its_accounts(
    web: Web, connected: Connected
) -> None:
    carol = await connect_sandbox(web.org.api, username="carol")
    await web.sign_in(await web.admin_email())
    await web.page.goto("/integrations")
    carols = web.page.locator("table.list tbody tr", has_text=carol["external_user_name"])
    await expect(carols.first).to_be_visible()
    await carols.first.hover()
    web.page.once("dialog", lambda dialog: dialog.accept())
    await carols.first.get_by_role("button", name=re.compile("Delete")).click()
    await expect(web.page.locator("#flash")).to_contain_text("is deleted")
    await expect(carols).to_have_count(0)
    # Alice's accounts stay.
    alices = web.page.locator("table.list tbody tr", has_text=connected.accounts[0]["name"])
    await expect(alices).to_have_count(1)
    response = await web.org.api.get(f"/api/v1/authorizations/{carol['id']}")
    assert response.status_code == 404


async def test_delete_is_reachable_from_the_keyboard(web: Web, connected: Connected) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/integrations")
    delete = web.page.get_by_role("button", name=re.compile("Delete")).first
    for _ in range(60):
        await web.page.keyboard.press("Tab")
        if await delete.evaluate("node => node === document.activeElement"):
            break
    await expect(delete).to_be_focused()
    await expect(delete).to_have_css("opacity", "1")


async def test_staff_count_and_see_only_their_clients(web: Web, connected: Connected) -> None:
    mine, theirs = connected.clients[0], connected.clients[1]
    await web.sign_in(await web.member("staff", clients=[mine["id"]]))
    await web.page.goto("/integrations?sort=-clients")
    counts = web.page.locator("table.list tbody tr td:nth-child(4)")
    await expect(counts.nth(0)).to_have_text("1")
    await expect(counts.nth(1)).to_have_text("0")
    # An account used only by a client they cannot see: no delete, and no names.
    other = web.page.get_by_role("row", name=re.compile(re.escape(connected.accounts[1]["name"])))
    await expect(other.get_by_role("button", name=re.compile("Delete"))).to_have_count(0)
    # An unused account of an authorization someone else connected: the server would refuse
    # them its delete, so no button offers it.
    spare = await _unused_account(connected)
    unused = web.page.get_by_role("row", name=re.compile(re.escape(spare["name"])))
    await expect(unused).to_be_visible()
    await expect(unused.get_by_role("button", name=re.compile("Delete"))).to_have_count(0)
    await other.get_by_role("link").click()
    await expect(web.page.get_by_text("Only clients you do not have access to")).to_be_visible()
    await expect(web.page.get_by_text(theirs["name"])).to_have_count(0)


async def test_viewers_look_without_acting(web: Web, connected: Connected) -> None:
    await web.sign_in(await web.member("viewer"))
    await web.page.goto("/integrations")
    await expect(web.page.locator("table.list tbody tr").first).to_be_visible()
    await expect(web.page.get_by_role("button", name=re.compile("Delete"))).to_have_count(0)
    await web.page.get_by_role("link", name=connected.accounts[0]["name"]).click()
    await expect(
        web.page.get_by_text("Viewers can look but not change connections")
    ).to_be_visible()
    await expect(web.page.get_by_role("row", name=re.compile("Northwind"))).to_be_visible()
    await expect(web.page.get_by_role("button", name=re.compile("Disconnect"))).to_have_count(0)


async def test_a_long_list_comes_in_pages(web: Web) -> None:
    names = [f"Account {n:02}" for n in range(55)]
    await web.tether.sandbox(
        "POST", "/users", json=[{"username": "dana", "password": "dana-password"}]
    )
    await web.tether.sandbox(
        "POST", "/accounts", json=[{"name": n, "users": ["dana"]} for n in names]
    )
    await connect_sandbox(web.org.api, username="dana")
    await web.sign_in(await web.admin_email())
    await web.page.goto("/integrations")
    rows = web.page.locator("table.list tbody tr")
    await expect(rows).to_have_count(50)
    await expect(web.page.get_by_label("Status")).to_contain_text("Any status (55)")
    await web.page.get_by_role("link", name="Next page").click()
    await expect(rows).to_have_count(5)
    await expect(rows.first).to_contain_text("Account 50")
    await web.page.get_by_role("link", name="First page").click()
    await expect(rows.first).to_contain_text("Account 00")


async def test_bad_filters_and_unknown_accounts_get_a_clear_answer(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    assert await web.status_of("/integrations?status=sleeping") == 400
    await expect(web.page.get_by_role("alert")).to_contain_text("Unknown status")
    assert await web.status_of("/integrations?sort=secret") == 400
    assert await web.status_of(f"/integrations/{connected.clients[0]['id']}") == 404
    await expect(web.page.get_by_role("alert")).to_contain_text("No such integration")
