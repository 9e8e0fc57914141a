"""The Incidents and Audit log screens: what lapsed and who changed what, with their filters."""

import re

from playwright.async_api import expect

from tests.fixtures.browser import Web
from tests.fixtures.connected import Connected


async def test_a_lapse_appears_among_the_open_incidents(web: Web, connected: Connected) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/incidents")
    await expect(web.page.get_by_text("No incidents here.")).to_be_visible()

    await connected.lapse()
    await web.page.goto("/incidents")
    tabs = web.page.get_by_role("navigation", name="Incident state")
    open_tab = tabs.get_by_role("link", name="Open (1)")
    await expect(open_tab).to_have_attribute("aria-current", "page")
    table = web.page.get_by_role("table", name="Incidents")
    row = table.locator("tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Lapse")
    await expect(row).to_contain_text("Authorization")
    await expect(row).to_contain_text("Sandbox Ads")
    await expect(row).to_contain_text("Signed in as Alice Martin")
    await expect(row).to_contain_text("Blue Fjord Coffee, Northwind Outfitters")
    await expect(row).to_contain_text("Open")
    await expect(row.get_by_text(re.compile("revoked", re.I)).first).to_be_visible()
    await web.screenshot("incidents")

    await tabs.get_by_role("link", name="Closed (0)").click()
    await expect(web.page.get_by_text("No incidents here.")).to_be_visible()
    await tabs.get_by_role("link", name="All (1)").click()
    await expect(table.locator("tbody tr")).to_have_count(1)

    await web.page.get_by_label("Kind").select_option("outage")
    await web.page.get_by_role("button", name="Filter").click()
    await expect(web.page.get_by_text("No incidents here.")).to_be_visible()
    await web.page.get_by_label("Kind").select_option("lapse")
    await web.page.get_by_label("Provider").select_option("sandbox")
    await web.page.get_by_role("button", name="Filter").click()
    await expect(table.locator("tbody tr")).to_have_count(1)
    await expect(web.page).to_have_url(re.compile(r"state=all.*kind=lapse"))


async def test_a_closed_incident_says_how_it_ended(web: Web, connected: Connected) -> None:
    await connected.remove_access(1)
    await connected.tether.sandbox(
        "PUT", f"/users/alice/accounts/{connected.accounts[1]['external_id']}"
    )
    await connected.check()
    await web.sign_in(await web.admin_email())
    await web.page.goto("/incidents")
    # Nothing is open any more, so the list shows them all.
    tabs = web.page.get_by_role("navigation", name="Incident state")
    await expect(tabs.get_by_role("link", name="All (1)")).to_have_attribute("aria-current", "page")
    row = web.page.locator("table.list tbody tr")
    await expect(row).to_contain_text("Connection")
    await expect(row).to_contain_text(connected.accounts[1]["name"])
    await expect(row).to_contain_text("for Blue Fjord Coffee")
    await expect(row).to_contain_text("Closed")
    await expect(row).to_contain_text("recovered by itself")


async def test_staff_see_only_the_incidents_of_their_clients(
    web: Web, connected: Connected
) -> None:
    await connected.remove_access(1)  # only Blue Fjord Coffee's connection lapses
    northwind = connected.clients[0]
    await web.sign_in(await web.member("staff", clients=[northwind["id"]]))
    await web.page.goto("/incidents")
    await expect(web.page.get_by_text("No incidents here.")).to_be_visible()
    await expect(web.page.get_by_role("link", name="All (0)")).to_be_visible()

    await connected.lapse()
    await web.page.goto("/incidents")
    row = web.page.locator("table.list tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Northwind Outfitters")
    await expect(row).not_to_contain_text("Blue Fjord Coffee")


async def test_the_audit_log_shows_the_status_change_and_filters(
    web: Web, connected: Connected
) -> None:
    await connected.lapse()
    await web.sign_in(await web.admin_email())
    await web.page.goto("/audit")
    table = web.page.get_by_role("table", name="Audit log")
    change = table.get_by_role("row", name=re.compile("Authorization status changed"))
    await expect(change).to_have_count(1)
    await expect(change).to_contain_text("Active → Needs reconnecting")
    await expect(change).to_contain_text("Sandbox Ads authorization of Alice Martin")
    await expect(change).to_contain_text("token revoked")
    # The check was asked for by the admin through the API: the entry names them.
    await expect(change).to_contain_text("Admin (")
    await expect(table.get_by_role("row", name=re.compile("Incident opened"))).to_have_count(1)
    await web.screenshot("audit-log")

    await web.page.get_by_label("Action").select_option("incident.opened")
    await web.page.get_by_role("button", name="Filter").click()
    rows = table.locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("Lapse of a Sandbox Ads authorization")

    await web.page.get_by_label("Who").select_option(label="Tether (health checks)")
    await web.page.get_by_role("button", name="Filter").click()
    await expect(web.page.get_by_text("No entry matches these filters.")).to_be_visible()

    await web.page.get_by_role("link", name="Clear filters").click()
    await web.page.get_by_label("Subject").select_option("authorization")
    await web.page.get_by_role("button", name="Filter").click()
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("Authorization status changed")


async def test_a_disconnection_is_recorded_with_who_did_it(web: Web, connected: Connected) -> None:
    email = await web.admin_email()
    await web.sign_in(email)
    web.page.once("dialog", lambda dialog: dialog.accept())
    await web.page.goto(f"/integrations/{connected.accounts[0]['id']}")
    await web.page.get_by_role("button", name=re.compile("Disconnect")).click()
    await expect(web.page.get_by_text("Disconnected", exact=True)).to_be_visible()
    await web.page.goto("/audit")
    row = web.page.get_by_role("row", name=re.compile("Connection disconnected"))
    await expect(row).to_contain_text(email)
    await expect(row).to_contain_text("Active → Disconnected")
    await expect(row).to_contain_text("Northwind Outfitters on")


async def test_the_audit_log_comes_in_pages(web: Web, connected: Connected) -> None:
    path = f"/api/v1/connections/{connected.connections[0]['id']}"
    for _ in range(26):
        assert (await connected.org.api.post(f"{path}/disconnect")).status_code == 200
        assert (await connected.org.api.post(f"{path}/connect")).status_code == 200
    await web.sign_in(await web.admin_email())
    await web.page.goto("/audit")
    rows = web.page.locator("table.list tbody tr")
    await expect(rows).to_have_count(50)
    await expect(rows.first).to_contain_text("Connection connected again")
    await web.page.get_by_role("link", name="Next page").click()
    await expect(rows).to_have_count(2)
    await expect(web.page.get_by_role("link", name="Next page")).to_have_count(0)
    await expect(rows.last).to_contain_text("Connection disconnected")


async def test_the_audit_log_is_for_admins(web: Web, connected: Connected) -> None:
    await web.sign_in(await web.member("staff"))
    assert await web.status_of("/audit") == 403
    await expect(web.page.get_by_role("alert")).to_contain_text(
        "Only admins can read the audit log"
    )


async def test_bad_filters_get_a_clear_answer(web: Web, connected: Connected) -> None:
    await web.sign_in(await web.admin_email())
    assert await web.status_of("/incidents?state=sideways") == 400
    await expect(web.page.get_by_role("alert")).to_contain_text("open, closed or all")
    assert await web.status_of("/incidents?kind=meteor") == 400
    await expect(web.page.get_by_role("alert")).to_contain_text("Unknown kind")
    assert await web.status_of("/audit?cursor=not-a-cursor") == 400
    await expect(web.page.get_by_role("alert")).to_contain_text("cursor is not valid")
