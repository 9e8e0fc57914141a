"""Notifications: the bell's red dot and panel, the list, the settings, and where a reconnect link
from an email lands."""

import re
from typing import Any

import time_machine
from playwright.async_api import Locator, Page, expect

from tests.fixtures.browser import PASSWORD, Web
from tests.fixtures.builders import Org
from tests.fixtures.connected import Connected
from tether.db import utcnow


async def _reconnect_path(connected: Connected) -> str:
    """The path of the reconnect link that the lapse's notification (and email) carries."""
    response = await connected.org.api.get("/api/v1/notifications")
    (notification,) = response.json()["data"]
    token = notification["reconnect_url"].rsplit("/", 1)[1]
    return f"/reconnect/{token}"


def _bell(page: Page, unread: int) -> Locator:
    return page.get_by_role("button", name=f"Notifications, {unread} unread")


async def _open_panel(web: Web, unread: int) -> Locator:
    await _bell(web.page, unread).click()
    panel = web.page.get_by_role("region", name="Latest notifications")
    await expect(panel).to_be_visible()
    return panel


async def test_a_lapse_lights_the_bell_and_its_panel_says_what_and_for_whom(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    await expect(_bell(web.page, 0)).to_be_visible()
    await expect(web.page.locator(".bell .dot")).to_have_count(0)

    await connected.lapse()
    await web.page.reload()
    bell = _bell(web.page, 1)
    await expect(bell.locator(".dot")).to_be_visible()
    await expect(bell).to_have_attribute("aria-expanded", "false")
    panel = await _open_panel(web, 1)
    await expect(bell).to_have_attribute("aria-expanded", "true")
    item = panel.get_by_role("listitem")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("Sandbox Ads")
    await expect(item).to_contain_text("Blue Fjord Coffee, Northwind Outfitters")
    await expect(item).to_contain_text("needs reconnecting")
    await expect(item.get_by_role("button", name="Reconnect")).to_be_visible()
    await expect(panel.get_by_role("link", name="All notifications")).to_be_visible()
    await web.screenshot("notifications-panel")

    # Escape closes the panel and gives the focus back to the bell.
    await item.get_by_role("button", name="Reconnect").focus()
    await web.page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(bell).to_be_focused()
    await expect(bell).to_have_attribute("aria-expanded", "false")

    # From the keyboard: Enter opens it, Tab walks into it; marking read puts the dot out.
    await web.page.keyboard.press("Enter")
    await expect(panel).to_be_visible()
    mark_all = panel.get_by_role("button", name="Mark all read")
    await expect(mark_all).to_be_visible()  # its content has come, as the member sees it
    await web.page.keyboard.press("Tab")
    await expect(mark_all).to_be_focused()
    await item.get_by_role("button", name=re.compile("^Mark read")).click()
    await expect(web.page.locator("#flash")).to_contain_text("Marked as read")
    await expect(_bell(web.page, 0)).to_be_visible()
    await expect(web.page.locator(".bell .dot")).to_have_count(0)
    # The bell's refresh leaves an open panel open, and says so.
    await expect(panel).to_be_visible()
    await expect(_bell(web.page, 0)).to_have_attribute("aria-expanded", "true")
    await expect(item.get_by_role("button", name=re.compile("^Mark read"))).to_have_count(0)
    unread = await web.org.api.get("/api/v1/notifications/unread-count")
    assert unread.json() == {"unread": 0}


async def test_reconnect_from_the_panel_restores_the_clients(
    web: Web, connected: Connected
) -> None:
    await connected.lapse()
    await web.sign_in(await web.admin_email())
    panel = await _open_panel(web, 1)
    await web.consent_in_popup(panel.get_by_role("button", name="Reconnect"))
    await expect(panel.get_by_text("Resolved")).to_be_visible()
    await expect(panel.get_by_role("button", name="Reconnect")).to_have_count(0)
    assert set((await connected.connection_statuses()).values()) == {"active"}


async def test_all_notifications_lists_every_one_and_marks_them_all_read(
    web: Web, connected: Connected
) -> None:
    await connected.lapse()
    await web.sign_in(await web.admin_email())
    panel = await _open_panel(web, 1)
    await panel.get_by_role("link", name="All notifications").click()
    await expect(web.page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    table = web.page.get_by_role("table", name="Notifications")
    headers = table.get_by_role("columnheader")
    await expect(headers).to_have_text(["Date", "Provider", "Clients", "Message", "Actions"])
    row = table.locator("tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Sandbox Ads")
    await expect(row).to_contain_text("Blue Fjord Coffee, Northwind Outfitters")
    await expect(row.get_by_role("button", name="Reconnect")).to_be_visible()

    await web.page.get_by_role("link", name="Unread (1)").click()
    await expect(row).to_have_count(1)
    await web.page.get_by_role("button", name="Mark all read").click()
    await expect(web.page.locator("#flash")).to_contain_text("1 notification marked as read")
    await expect(web.page.get_by_text("Nothing unread.")).to_be_visible()
    await expect(web.page.get_by_role("link", name="Unread (0)")).to_be_visible()
    await expect(_bell(web.page, 0)).to_be_visible()


async def test_settings_save_an_opt_out_and_a_return_to_the_default(web: Web) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/notifications/settings")
    table = web.page.get_by_role("table", name="Notification settings")
    await expect(table.get_by_role("columnheader")).to_have_text(
        ["Event", "In the app", "By email"]
    )
    email = web.page.get_by_label("A data source needs reconnecting, by email")
    await expect(email).to_have_value("default")
    await email.select_option("off")
    await web.page.get_by_label("A provider has an outage, in the app").select_option("off")
    await web.page.get_by_role("button", name="Save").click()
    await expect(web.page.locator("#flash")).to_contain_text("settings are saved")
    await web.screenshot("notification-settings")

    chosen = await _preferences(web.org)
    assert chosen[("authorization.lapsed", "email")] is False
    assert chosen[("provider.outage", "in_app")] is False
    assert chosen[("authorization.lapsed", "in_app")] is None

    await web.page.reload()
    await expect(email).to_have_value("off")
    await email.select_option("default")
    await web.page.get_by_role("button", name="Save").click()
    await expect(web.page.locator("#flash")).to_contain_text("settings are saved")
    assert (await _preferences(web.org))[("authorization.lapsed", "email")] is None


async def _preferences(org: Org) -> dict[tuple[str, str], Any]:
    response = await org.api.get("/api/v1/notification-preferences")
    return {(p["event"], p["channel"]): p["enabled"] for p in response.json()["data"]}


async def test_a_reconnect_link_asks_to_sign_in_then_shows_the_lapse_and_one_button(
    web: Web, connected: Connected
) -> None:
    await connected.lapse()
    path = await _reconnect_path(connected)
    email = await web.admin_email()

    await web.page.goto(path)
    await expect(web.page).to_have_url(re.compile(r"/login\?next=%2Freconnect%2F"))
    await web.sign_in_here(email)
    await expect(web.page).to_have_url(re.compile(re.escape(path) + "$"))
    main = web.page.locator("main")
    await expect(main.get_by_role("heading", name="Reconnect Sandbox Ads")).to_be_visible()
    await expect(main).to_contain_text("The Sandbox Ads access of Alice Martin needs reconnecting")
    await expect(main.get_by_text("Needs reconnecting").first).to_be_visible()
    await expect(main.locator(".landing-reason")).to_contain_text(re.compile("revoked", re.I))
    since = main.locator("dt", has_text="Since").locator("xpath=following-sibling::dd")
    await expect(since).to_have_text(re.compile(r"\d{4}, \d\d:\d\d UTC"))
    affected = main.get_by_role("table", name="Clients affected")
    await expect(affected.locator("tbody tr")).to_have_count(2)
    for client, account in zip(connected.clients, connected.accounts, strict=True):
        await expect(affected).to_contain_text(client["name"])
        await expect(affected).to_contain_text(account["name"])
    buttons = main.get_by_role("button")
    await expect(buttons).to_have_count(1)
    await expect(buttons).to_have_text("Reconnect Sandbox Ads")
    await expect(buttons).to_have_class(re.compile(r"\bprimary\b"))
    await web.screenshot("reconnect-landing")

    await web.consent_in_popup(buttons)
    await expect(main.get_by_role("heading", name="Sandbox Ads works again")).to_be_visible()
    assert set((await connected.connection_statuses()).values()) == {"active"}


async def test_forged_expired_and_foreign_links_are_refused_with_the_reason(
    web: Web, connected: Connected, other_org: Org
) -> None:
    await connected.lapse()
    path = await _reconnect_path(connected)

    forged = await web.page.goto(path[:-3] + "xyz")
    assert forged is not None
    assert forged.status == 404
    await expect(web.page.get_by_role("heading", name="This link cannot be used")).to_be_visible()
    await expect(web.page.get_by_role("alert")).to_contain_text("not valid")

    with time_machine.travel(utcnow().timestamp() + 15 * 86400, tick=True):
        expired = await web.page.goto(path)
    assert expired is not None
    assert expired.status == 410
    await expect(web.page.get_by_role("alert")).to_contain_text("expired")

    stranger = await other_org.api.patch(
        f"/api/v1/members/{other_org.admin_id}", json={"password": PASSWORD}
    )
    await web.page.goto(path)
    await web.sign_in_here(stranger.json()["email"])
    await expect(web.page.get_by_role("alert")).to_contain_text("another organization")
    refused = await web.page.reload()
    assert refused is not None
    assert refused.status == 403
    await expect(web.page.get_by_text("Alice Martin")).to_have_count(0)


async def test_staff_see_only_their_own_clients_in_the_panel_and_on_the_link(
    web: Web, connected: Connected
) -> None:
    northwind, fjord = connected.clients
    await web.sign_in(await web.member("staff", clients=[northwind["id"]]))
    await connected.lapse()
    path = await _reconnect_path(connected)
    await web.page.reload()

    panel = await _open_panel(web, 1)
    item = panel.get_by_role("listitem")
    await expect(item).to_contain_text(northwind["name"])
    await expect(item).not_to_contain_text(fjord["name"])

    await web.page.goto(path)
    main = web.page.locator("main")
    affected = main.get_by_role("table", name="Clients affected")
    await expect(affected.locator("tbody tr")).to_have_count(1)
    await expect(affected).to_contain_text(northwind["name"])
    await expect(main).not_to_contain_text(fjord["name"])
    await expect(main).to_contain_text("1 client you do not have access to")
    await expect(main).to_contain_text("reconnects the clients you work on")
    reconnect = main.get_by_role("button", name="Reconnect Sandbox Ads")
    await expect(reconnect).to_be_enabled()

    # Their sign-in restores their client; the other stays for its connector or an admin.
    await web.consent_in_popup(reconnect)
    await expect(main).to_contain_text("None of the clients you work on")
    await expect(reconnect).to_be_disabled()
    await expect(main).to_contain_text("only its connector or an admin")
    statuses = await connected.connection_statuses()
    assert statuses == {
        connected.accounts[0]["external_id"]: "active",
        connected.accounts[1]["external_id"]: "needs_reconnect",
    }


async def test_staff_who_see_none_of_the_clients_read_no_names_and_viewers_cannot_act(
    web: Web, connected: Connected
) -> None:
    northwind, fjord = connected.clients
    await connected.lapse()
    path = await _reconnect_path(connected)
    await web.sign_in(await web.member("staff", clients=[]))
    await web.page.goto(path)
    main = web.page.locator("main")
    await expect(main).to_contain_text("None of the clients you work on")
    await expect(main).to_contain_text("2 clients you do not have access to")
    for client in (northwind, fjord):
        await expect(main).not_to_contain_text(client["name"])
    await expect(main.get_by_role("button", name="Reconnect Sandbox Ads")).to_be_disabled()
    await expect(web.page.locator(".bell .dot")).to_have_count(0)

    await web.sign_out()
    await web.sign_in(await web.member("viewer"))
    await web.page.goto(path)
    await expect(main.get_by_role("button", name="Reconnect Sandbox Ads")).to_be_disabled()
    await expect(main).to_contain_text("Viewers cannot reconnect")
