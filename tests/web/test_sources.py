"""The Data sources screen: the catalog, connecting in a pop-up or with an API key, and each
provider's connection settings (status, accounts, main or secondary, delete, reconnect)."""

import re
import uuid
from typing import Any

from playwright.async_api import Locator, Page, Route, expect

from tests.fixtures.browser import Web
from tests.fixtures.builders import connect_sandbox
from tests.fixtures.connected import Connected
from tether.providers.catalog import CATALOG


def _card(page: Page, name: str) -> Locator:
    return page.get_by_role("article", name=name, exact=True)


async def _open_settings(web: Web, provider: str = "Sandbox Ads") -> Locator:
    await _card(web.page, provider).get_by_role("button", name="Connection settings").click()
    dialog = web.page.get_by_role("dialog", name=f"{provider}: connection settings")
    await expect(dialog).to_be_visible()
    return dialog


async def _sandbox_key(web: Web, username: str) -> str:
    return str((await web.tether.sandbox("GET", f"/users/{username}"))["api_key"])


async def test_an_admin_connects_sandbox_ads_in_a_pop_up_and_sees_its_settings(web: Web) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.get_by_role("link", name="Data sources").click()
    await expect(web.page.get_by_role("heading", name="Data sources", level=1)).to_be_visible()
    await expect(web.page.locator(".grid-cards article")).to_have_count(16)
    sandbox = _card(web.page, "Sandbox Ads")
    await expect(sandbox).to_contain_text("Not connected")
    google = _card(web.page, "Google Ads")  # the sandbox stands in for it in the tests
    await expect(google).to_contain_text("The sandbox answers as Google Ads")
    await expect(google.get_by_role("button", name="Connect Google Ads")).to_be_visible()
    for info in CATALOG:  # every platform connects: the sandbox stands in for each
        await expect(
            _card(web.page, info.name).get_by_role("button", name=f"Connect {info.name}")
        ).to_be_visible()

    await web.consent_in_popup(sandbox.get_by_role("button", name="Connect Sandbox Ads"))
    await expect(sandbox.get_by_role("button", name="Connection settings")).to_be_visible()
    await expect(sandbox).to_contain_text("1 authorization")
    await expect(sandbox.get_by_text("Active")).to_be_visible()
    await expect(web.page.locator("#flash")).to_contain_text("Connected")
    await web.screenshot("data-sources")

    dialog = await _open_settings(web)
    section = dialog.get_by_role("region", name="Alice Martin")
    await expect(section.get_by_text("Status: Active")).to_be_visible()
    await expect(section.get_by_text("Role: Main")).to_be_visible()
    await expect(section).to_contain_text("Admin")  # the connector
    accounts = section.get_by_role("table", name="Accounts of Alice Martin")
    await expect(accounts.locator("tbody tr")).to_have_count(9)
    await expect(section.get_by_text("9 accounts")).to_be_visible()
    delete = section.get_by_role("button", name="Delete authorization Alice Martin")
    await expect(delete).to_be_enabled()


async def test_the_card_updates_at_once_when_the_platform_cuts_the_pop_up_off_from_the_page(
    web: Web,
) -> None:
    """Real platforms' sign-in pages send a Cross-Origin-Opener-Policy, which leaves the pop-up
    without window.opener; the result still reaches the page, and the pop-up still closes."""

    async def like_a_platform(route: Route) -> None:
        response = await route.fetch(max_redirects=0)
        headers = {**response.headers, "cross-origin-opener-policy": "same-origin"}
        await route.fulfill(response=response, headers=headers)

    await web.context.route(lambda url: "/sandbox/oauth/" in url, like_a_platform)
    await web.sign_in(await web.admin_email())
    await web.page.goto("/sources")
    card = _card(web.page, "Sandbox Ads")
    await expect(card).to_contain_text("Not connected")
    await web.page.evaluate("window.notReloaded = true")

    await web.consent_in_popup(card.get_by_role("button", name="Connect Sandbox Ads"))
    await expect(web.page.locator("#flash")).to_contain_text("Connected. Statuses are up to date.")
    await expect(card.get_by_role("button", name="Connection settings")).to_be_visible()
    await expect(card).to_contain_text("1 authorization")
    assert await web.page.evaluate("window.notReloaded") is True


async def test_delete_is_refused_while_a_client_uses_it_and_works_once_none_does(
    web: Web,
) -> None:
    alice = await connect_sandbox(web.org.api)
    listed = await web.org.api.get(f"/api/v1/authorizations/{alice['id']}/accounts")
    account = listed.json()["data"][0]
    client = await web.org.client("Northwind Outfitters")
    response = await web.org.api.post(
        "/api/v1/connections", json={"client_id": client["id"], "account_id": account["id"]}
    )
    assert response.status_code == 201, response.text
    await connect_sandbox(web.org.api, username="bob")
    await web.sign_in(await web.admin_email())
    await web.page.goto("/sources")
    await expect(_card(web.page, "Sandbox Ads")).to_contain_text("2 authorizations")

    dialog = await _open_settings(web)
    in_use = dialog.get_by_role("region", name="Alice Martin")
    unused = dialog.get_by_role("region", name="Bob Okafor")
    await expect(in_use.get_by_text("Role: Secondary")).to_be_visible()
    await expect(unused.get_by_text("Role: Main")).to_be_visible()
    refused = in_use.get_by_role("button", name="Delete authorization Alice Martin")
    await expect(refused).to_be_disabled()
    await expect(refused).to_have_accessible_description("In use by 1 client")
    await expect(in_use.get_by_text("In use by 1 client")).to_be_visible()
    await web.page.set_viewport_size({"width": 1360, "height": 1300})
    await web.screenshot("connection-settings")

    await in_use.get_by_role("button", name="Make Alice Martin the main authorization").click()
    await expect(web.page.get_by_role("status").first).to_contain_text("is now the main")
    await expect(in_use.get_by_text("Role: Main")).to_be_visible()
    await expect(unused.get_by_text("Role: Secondary")).to_be_visible()

    web.page.once("dialog", lambda confirm: confirm.accept())
    await unused.get_by_role("button", name="Delete authorization Bob Okafor").click()
    await expect(web.page.locator("#flash")).to_contain_text("Bob Okafor is deleted")
    await expect(unused).to_have_count(0)
    await expect(dialog.get_by_text("1 authorization.")).to_be_visible()
    await expect(_card(web.page, "Sandbox Ads")).to_contain_text("1 authorization")
    remaining = await web.org.api.get("/api/v1/authorizations")
    assert [a["external_user_name"] for a in remaining.json()["data"]] == ["Alice Martin"]


async def test_a_lapsed_authorization_shows_a_red_reconnect_with_the_error_and_reconnects(
    web: Web, connected: Connected
) -> None:
    await connected.lapse()
    await web.sign_in(await web.admin_email())
    await web.page.goto("/sources")
    card = _card(web.page, "Sandbox Ads")
    await expect(card.get_by_text("1 needs reconnecting")).to_be_visible()

    dialog = await _open_settings(web)
    section = dialog.get_by_role("region", name="Alice Martin")
    await expect(section.get_by_text("Status: Needs reconnecting")).to_be_visible()
    reconnect = section.get_by_role("button", name="Reconnect")
    await expect(reconnect).to_have_class(re.compile(r"\bdanger\b"))
    await expect(section.locator(".lapse .error-text")).to_contain_text(re.compile("revoked", re.I))
    await expect(
        section.get_by_role("button", name="Delete authorization Alice Martin")
    ).to_be_disabled()
    await expect(section.get_by_text("In use by 2 clients")).to_be_visible()
    await web.screenshot("connection-settings-lapsed")

    # Signing in again in the pop-up restores it; the open dialog updates itself.
    await web.consent_in_popup(reconnect)
    await expect(section.get_by_text("Status: Active")).to_be_visible()
    await expect(section.get_by_role("button", name="Reconnect")).to_have_count(0)
    await expect(card.get_by_text("Active")).to_be_visible()
    assert set((await connected.connection_statuses()).values()) == {"active"}


async def test_add_or_update_signs_in_again_and_the_new_authorization_becomes_main(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/sources")
    dialog = await _open_settings(web)
    await web.consent_in_popup(dialog.get_by_role("button", name="Add or update"), "bob")
    bob = dialog.get_by_role("region", name="Bob Okafor")
    await expect(bob.get_by_text("Role: Main")).to_be_visible()
    alice = dialog.get_by_role("region", name="Alice Martin")
    await expect(alice.get_by_text("Role: Secondary")).to_be_visible()
    await expect(alice.get_by_text("In use by 2 clients")).to_be_visible()
    await expect(_card(web.page, "Sandbox Ads")).to_contain_text("2 authorizations")


async def test_an_api_key_source_connects_from_a_form_that_refuses_a_wrong_key(web: Web) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/sources")
    card = _card(web.page, "Sandbox Ads (API key)")
    await card.get_by_role("button", name="Connect Sandbox Ads (API key)").click()
    dialog = web.page.get_by_role("dialog", name="Connect Sandbox Ads (API key)")
    await dialog.get_by_label("API key").fill("sbx_not_a_key")
    await dialog.get_by_role("button", name="Connect").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("refused the connection")
    await expect(dialog).to_be_visible()

    await dialog.get_by_label("API key").fill(await _sandbox_key(web, "carol"))
    await dialog.get_by_role("button", name="Connect").click()
    await expect(dialog).to_be_hidden()
    await expect(web.page.locator("#flash")).to_contain_text("is connected as Carol Nguyen")
    await expect(card.get_by_role("button", name="Connection settings")).to_be_visible()
    settings = await _open_settings(web, "Sandbox Ads (API key)")
    await expect(settings.get_by_role("region", name="Carol Nguyen")).to_be_visible()


async def test_a_failing_api_key_source_is_reconnected_by_entering_the_key_again(
    web: Web,
) -> None:
    key = await _sandbox_key(web, "carol")
    created = await web.org.api.post(
        "/api/v1/authorizations", json={"provider": "sandbox_api_key", "api_key": key}
    )
    assert created.status_code == 201, created.text
    await web.tether.sandbox("PUT", "/faults", json={"users": ["carol"], "down": True})
    try:
        checked = await web.org.api.post(f"/api/v1/authorizations/{created.json()['id']}/check")
        assert checked.status_code == 200, checked.text
    finally:
        await web.tether.sandbox("DELETE", "/faults")
    await web.sign_in(await web.admin_email())
    await web.page.goto("/sources")
    dialog = await _open_settings(web, "Sandbox Ads (API key)")
    section = dialog.get_by_role("region", name="Carol Nguyen")
    await expect(section.get_by_text("Status: Failing")).to_be_visible()

    await section.get_by_role("button", name="Reconnect").click()
    await section.get_by_label("New API key for Carol Nguyen").fill("sbx_wrong")
    await section.get_by_role("button", name="Check the key and reconnect").click()
    await expect(section.get_by_role("alert")).to_contain_text("refused")

    await section.get_by_label("New API key for Carol Nguyen").fill(key)
    await section.get_by_role("button", name="Check the key and reconnect").click()
    await expect(web.page.locator("#flash")).to_contain_text("is reconnected")
    await expect(section.get_by_text("Status: Active")).to_be_visible()


async def test_a_viewer_sees_the_catalog_and_settings_without_actions(
    web: Web, connected: Connected
) -> None:
    await connected.lapse()
    await web.sign_in(await web.member("viewer"))
    await web.page.goto("/sources")
    await expect(_card(web.page, "Sandbox Ads (API key)")).to_contain_text("Not connected")
    await expect(web.page.get_by_role("button", name=re.compile(r"^Connect\b"))).to_have_count(0)

    dialog = await _open_settings(web)
    section = dialog.get_by_role("region", name="Alice Martin")
    await expect(section.get_by_text("Status: Needs reconnecting")).to_be_visible()
    await expect(section.locator(".lapse .error-text")).to_be_visible()
    for name in ("Reconnect", "Add or update", "Make main", re.compile("^Delete")):
        await expect(dialog.get_by_role("button", name=name)).to_have_count(0)


async def test_staff_who_see_only_some_clients_are_told_why_they_cannot_reconnect_here(
    web: Web, connected: Connected
) -> None:
    await connected.lapse()
    email = await web.member("staff", clients=[connected.clients[0]["id"]])
    await web.sign_in(email)
    await web.page.goto("/sources")
    dialog = await _open_settings(web)
    section = dialog.get_by_role("region", name="Alice Martin")
    reconnect = section.get_by_role("button", name="Reconnect")
    await expect(reconnect).to_be_disabled()
    await expect(reconnect).to_have_accessible_description(
        re.compile("also serves clients you cannot see")
    )
    # Client names stay hidden from staff: only how many clients use it.
    await expect(dialog).not_to_contain_text(str(connected.clients[1]["name"]))


async def test_an_authorization_with_many_accounts_shows_them_a_page_at_a_time(web: Web) -> None:
    username = f"many_{uuid.uuid4().hex[:8]}"
    await web.tether.sandbox("POST", "/users", json=[{"username": username, "password": "pw"}])
    specs: list[dict[str, Any]] = [
        {"name": f"Account {n:02d}", "users": [username]} for n in range(30)
    ]
    await web.tether.sandbox("POST", "/accounts", json=specs)
    authorization = await connect_sandbox(web.org.api, username=username, password="pw")
    name = authorization["external_user_name"]
    await web.sign_in(await web.admin_email())
    await web.page.goto("/sources")
    dialog = await _open_settings(web)
    table = dialog.get_by_role("table", name=f"Accounts of {name}")
    await expect(table.locator("tbody tr")).to_have_count(20)
    await expect(dialog.get_by_text("Showing the first 20 of 30 accounts")).to_be_visible()
    await dialog.get_by_role("button", name="Next accounts").click()
    await expect(dialog.get_by_text("Showing accounts 21\u201330 of 30")).to_be_visible()
    await expect(table.locator("tbody tr")).to_have_count(10)
    await expect(table.locator("tbody tr").first).to_contain_text("Account 20")
    await dialog.get_by_role("button", name="First accounts").click()
    await expect(table.locator("tbody tr").first).to_contain_text("Account 00")


async def test_settings_open_on_the_lapsed_authorizations_and_can_show_all(
    web: Web, connected: Connected
) -> None:
    await connect_sandbox(web.org.api, username="bob")
    await connected.lapse()
    await web.sign_in(await web.admin_email())
    await web.page.goto("/sources")
    dialog = await _open_settings(web)
    lapsed = dialog.get_by_role("button", name="Needs reconnecting (1)")
    await expect(lapsed).to_have_attribute("aria-pressed", "true")
    await expect(dialog.get_by_role("region")).to_have_count(1)
    await expect(dialog.get_by_role("region", name="Alice Martin")).to_be_visible()
    await dialog.get_by_role("button", name="All (2)").click()
    await expect(dialog.get_by_role("region")).to_have_count(2)
    await expect(dialog.get_by_role("button", name="All (2)")).to_have_attribute(
        "aria-pressed", "true"
    )


async def test_many_authorizations_are_listed_a_page_at_a_time(web: Web) -> None:
    # Eleven platform users: signing in again as one renews their authorization instead.
    users = [{"username": f"user{n}", "password": "pw", "accounts": ["1000001"]} for n in range(11)]
    await web.tether.sandbox("POST", "/users", json=users)
    for user in users:
        await connect_sandbox(web.org.api, username=user["username"], password="pw")
    await web.sign_in(await web.admin_email())
    await web.page.goto("/sources")
    await expect(_card(web.page, "Sandbox Ads")).to_contain_text("11 authorizations")
    dialog = await _open_settings(web)
    sections = dialog.get_by_role("region")
    await expect(sections).to_have_count(10)
    await dialog.get_by_role("button", name="Next authorizations").click()
    await expect(sections).to_have_count(1)
    await expect(sections.get_by_text("Role: Secondary")).to_be_visible()  # the oldest
    await dialog.get_by_role("button", name="First authorizations").click()
    await expect(sections).to_have_count(10)
    await expect(sections.first.get_by_text("Role: Main")).to_be_visible()


async def test_an_unknown_provider_is_a_readable_404(web: Web) -> None:
    await web.sign_in(await web.admin_email())
    response = await web.page.goto("/sources/nope/settings")
    assert response is not None
    assert response.status == 404
    await expect(web.page.get_by_text("There is no provider called 'nope'")).to_be_visible()
