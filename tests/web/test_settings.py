"""Settings: members and their client access, webhooks and their deliveries, the sandbox."""

import re
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from tests.fixtures.browser import PASSWORD, Web
from tests.fixtures.builders import connect_provider
from tests.fixtures.connected import Connected
from tests.fixtures.invitations import invitation_link, send_invitations
from tests.fixtures.receiver import allow_private_targets, receiving
from tests.fixtures.smtp import Mailbox
from tether.config import Settings
from tether.web.pages.settings_sandbox import Control, SandboxUnavailable, control_of


def flash(page: Page) -> Locator:
    return page.locator("#flash")


async def settled(page: Page) -> None:
    """Wait for the page's own reload after an action, as a member sees the result before
    acting again (an action's answer and the reload it triggers are separate requests)."""
    await page.wait_for_load_state("networkidle")


async def test_an_admin_invites_a_staff_member_who_joins_and_then_sees_only_their_client(
    web: Web, connected: Connected, smtp: Mailbox
) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.get_by_role("link", name="Settings").click()
    await expect(web.page.get_by_role("heading", name=re.compile(r"Members \(1\)"))).to_be_visible()
    tabs = web.page.get_by_role("navigation", name="Settings")
    await expect(tabs.get_by_role("link", name="Members")).to_have_attribute("aria-current", "page")

    await web.page.get_by_role("button", name="Invite a member").click()
    dialog = web.page.get_by_role("dialog", name="Invite a member")
    await dialog.get_by_label("Email").fill("Dana@Agency.example.com")
    await dialog.get_by_label("Name").fill("Dana Reyes")
    await dialog.get_by_role("radio", name=re.compile("^Staff")).check()
    await dialog.get_by_label("Find clients").fill("North")
    northwind = dialog.get_by_label("Northwind Outfitters")
    await expect(dialog.get_by_label("Blue Fjord Coffee")).to_have_count(0)
    await northwind.check()
    await expect(
        dialog.get_by_role("radio", name=re.compile("Only the clients chosen"))
    ).to_be_checked()
    await expect(dialog.get_by_label(re.compile("password", re.I))).to_have_count(0)
    await dialog.get_by_role("button", name="Send invitation").click()

    await expect(flash(web.page)).to_contain_text(
        "An invitation is on its way to dana@agency.example.com, as staff with access to 1 client"
    )
    await expect(dialog).to_be_hidden()
    invited = web.page.get_by_role("table", name="Invitations").get_by_role(
        "row", name=re.compile("dana@")
    )
    await expect(invited).to_contain_text("Staff")
    await expect(invited).to_contain_text("Sending")
    assert await send_invitations(web.tether) == 1
    await web.page.reload()
    await expect(invited).to_contain_text("Sent")
    await web.screenshot("settings-members")

    await web.sign_out()
    await web.page.goto(invitation_link(smtp, "dana@agency.example.com"))
    await expect(
        web.page.get_by_role("heading", name=re.compile("^Join .* on Tether"))
    ).to_be_visible()
    await expect(web.page.get_by_label("Your name")).to_have_value("Dana Reyes")
    await web.screenshot("invitation")
    await web.page.get_by_label("Choose a password").fill(PASSWORD)
    await web.page.get_by_label("The same password again").fill(PASSWORD)
    await web.page.get_by_role("button", name=re.compile("^Join")).click()

    await web.page.wait_for_url("**/connections")
    rows = web.page.locator("table.list tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("Northwind Outfitters")
    await expect(web.page.get_by_text("Blue Fjord Coffee")).to_have_count(0)
    await web.sign_out()
    await web.sign_in("dana@agency.example.com")
    await expect(web.page.get_by_role("link", name="Settings")).to_have_count(0)


async def test_an_admin_changes_a_members_role_and_client_access(
    web: Web, connected: Connected
) -> None:
    email = await web.member("staff", clients=[connected.clients[1]["id"]])
    await web.sign_in(await web.admin_email())
    await web.page.goto("/settings/members")
    row = web.page.get_by_role("row", name=re.compile(re.escape(email)))
    await expect(row.locator("td").nth(3)).to_have_text("Blue Fjord Coffee")

    await row.get_by_role("button", name="Change").click()
    dialog = web.page.get_by_role("dialog", name=re.compile("Change"))
    await expect(dialog.get_by_label("Blue Fjord Coffee")).to_be_checked()
    await dialog.get_by_role("radio", name=re.compile("^Viewer")).check()
    await dialog.get_by_role("button", name="Save changes").click()

    await expect(flash(web.page)).to_contain_text("is now viewer with access to all clients")
    await expect(row).to_contain_text("Viewer")
    await expect(row.locator("td").nth(3)).to_have_text("All clients")
    response = await web.org.api.get("/api/v1/members")
    changed = next(m for m in response.json()["data"] if m["email"] == email)
    assert changed["role"] == "viewer"
    assert changed["client_access"] == "all"


async def test_the_members_list_names_a_staff_members_first_clients_and_counts_the_rest(
    web: Web,
) -> None:
    names = ["Quill Dental", "Acme Roofing", "Orbit Fitness", "Mesa Bakery", "Beacon Legal"]
    ids = [(await web.org.client(name))["id"] for name in names]
    many = await web.member("staff", clients=ids)
    none = await web.member("staff", clients=[])
    await web.sign_in(await web.admin_email())
    await web.page.goto("/settings/members")

    access = web.page.get_by_role("row", name=re.compile(re.escape(many))).locator("td").nth(3)
    await expect(access).to_have_text(
        re.compile(r"^\s*Acme Roofing, Beacon Legal, Mesa Bakery\s+and 2 more \(5 clients\)\s*$")
    )
    nothing = web.page.get_by_role("row", name=re.compile(re.escape(none))).locator("td").nth(3)
    await expect(nothing).to_have_text("No clients")


async def test_the_last_admin_cannot_be_removed_or_demoted(web: Web) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/settings/members")
    row = web.page.get_by_role("row", name=re.compile(r"\(you\)"))
    web.page.once("dialog", lambda dialog: dialog.accept())
    await row.get_by_role("button", name="Remove").click()
    message = flash(web.page).get_by_role("alert")
    await expect(message).to_have_text("An organization needs at least one admin.")
    await expect(row).to_be_visible()

    await row.get_by_role("button", name="Change").click()
    dialog = web.page.get_by_role("dialog", name=re.compile("Change"))
    await dialog.get_by_role("radio", name=re.compile("^Staff")).check()
    await dialog.get_by_role("button", name="Save changes").click()
    await expect(message).to_have_text("An organization needs at least one admin.")
    await web.page.reload()
    await expect(row).to_contain_text("Admin")


async def test_a_member_is_removed_and_a_bad_email_is_refused(web: Web) -> None:
    email = await web.member("viewer")
    await web.sign_in(await web.admin_email())
    await web.page.goto("/settings/members")
    web.page.once("dialog", lambda dialog: dialog.accept())
    await (
        web.page.get_by_role("row", name=re.compile(re.escape(email)))
        .get_by_role("button", name="Remove")
        .click()
    )
    await expect(flash(web.page)).to_contain_text("is no longer a member")
    await expect(web.page.get_by_role("row", name=re.compile(re.escape(email)))).to_have_count(0)

    # The browser checks the email field too; this is what the server says to anything else.
    csrf = await web.page.locator("body").get_attribute("data-csrf")
    response = await web.page.request.post(
        "/settings/invitations",
        form={"email": "not an email", "role": "staff", "csrf_token": csrf or ""},
        headers={"HX-Request": "true"},
    )
    assert response.status == 422
    assert "is not an email address" in await response.text()


async def test_staff_get_a_403_page_in_settings(web: Web, connected: Connected) -> None:
    await web.sign_in(await web.member("staff", clients=[connected.clients[0]["id"]]))
    await expect(web.page.get_by_role("link", name="Settings")).to_have_count(0)
    for path in ("/settings/members", "/settings/webhooks", "/settings/sandbox"):
        response = await web.page.goto(path)
        assert response is not None
        assert response.status == 403
        await expect(web.page.get_by_role("alert")).to_have_text(
            "Only admins can see or change Settings."
        )


async def test_a_webhook_shows_its_secret_once_and_its_test_send_is_logged(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_private_targets(web.tether.settings, monkeypatch)  # the receiver is on 127.0.0.1
    await web.sign_in(await web.admin_email())
    await web.page.goto("/settings/webhooks")
    with receiving() as receiver:
        await web.page.get_by_role("button", name="Add a webhook").click()
        dialog = web.page.get_by_role("dialog", name="Add a webhook")
        await dialog.get_by_label("Endpoint URL").fill(f"{receiver.url}/hooks/tether")
        await dialog.get_by_label("Description (optional)").fill("Ops alerts")
        await dialog.get_by_label(re.compile("A provider outage is over")).uncheck()
        await dialog.get_by_role("button", name="Add webhook").click()

        shown = web.page.get_by_role("dialog", name="Webhook added")
        secret_box = shown.get_by_role("textbox", name=re.compile("Signing secret"))
        await expect(secret_box).to_have_value(re.compile("^whsec_"))
        await expect(shown).to_contain_text("shown only this once")
        secret = await secret_box.input_value()
        row = web.page.get_by_role("row", name=re.compile(r"hooks\/tether"))
        await expect(row).to_contain_text("Ops alerts")
        await shown.get_by_role("button", name="I have copied it").click()
        # Closed, the dialog is gone from the page, the secret with it.
        await expect(web.page.locator("dialog")).to_have_count(0)
        assert secret not in await web.page.content()
        await web.page.reload()
        assert secret not in await web.page.content()
        await expect(row).to_contain_text("Active")

        await row.get_by_label(re.compile("Actions for the webhook")).click()
        await row.get_by_role("button", name="Send test").click()
        await expect(flash(web.page)).to_contain_text("delivered: the endpoint answered HTTP 200")
        [received] = receiver.delivered("/hooks/tether")
        assert received.event == "webhook.test"
        await web.screenshot("settings-webhooks")

    await row.get_by_role("link", name=re.compile(r"hooks\/tether")).click()
    log = web.page.get_by_role("table", name="Delivery log")
    entry = log.get_by_role("row", name=re.compile("webhook.test"))
    await expect(entry).to_contain_text("Delivered")
    await expect(entry.locator("td").nth(3)).to_have_text("200")
    await expect(entry.locator("td").nth(2)).to_have_text("1")
    await web.screenshot("webhook-deliveries")

    # The receiver has gone: a second test fails, and says so in the flash and in the log.
    await web.page.get_by_role("button", name="Send test").click()
    await expect(flash(web.page).get_by_role("alert")).to_contain_text("was not delivered")
    await expect(log.get_by_role("row", name=re.compile("Gave up"))).to_contain_text(
        "could not connect"
    )


async def test_a_webhook_to_an_internal_address_is_refused_with_the_reason(web: Web) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/settings/webhooks")
    await web.page.get_by_role("button", name="Add a webhook").click()
    dialog = web.page.get_by_role("dialog", name="Add a webhook")
    await dialog.get_by_label("Endpoint URL").fill("http://127.1:6379/")
    await dialog.get_by_role("button", name="Add webhook").click()

    await expect(dialog.get_by_role("alert")).to_contain_text(
        "127.1 is a loopback address: only public addresses are allowed"
    )
    assert (await web.org.api.get("/api/v1/webhooks")).json()["total"] == 0


async def test_a_webhook_is_paused_its_secret_rotated_and_deleted(web: Web) -> None:
    await web.sign_in(await web.admin_email())
    created = await web.org.api.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/tether", "events": ["authorization.lapsed"]},
    )
    old_secret = created.json()["secret"]
    await web.page.goto("/settings/webhooks")
    row = web.page.get_by_role("row", name=re.compile("hooks.example.com"))
    await expect(row).to_contain_text("authorization.lapsed")
    menu = row.get_by_label(re.compile("Actions for the webhook"))

    await menu.click()
    await row.get_by_role("button", name="Pause").click()
    await expect(row).to_contain_text("Paused")
    await menu.click()
    await expect(row.get_by_role("button", name="Send test")).to_be_disabled()
    await row.get_by_role("button", name="Resume").click()
    await expect(row).to_contain_text("Active")

    web.page.once("dialog", lambda dialog: dialog.accept())
    await menu.click()
    await row.get_by_role("button", name="Rotate secret").click()
    shown = web.page.get_by_role("dialog", name="New signing secret")
    new_secret = await shown.get_by_role("textbox").input_value()
    assert new_secret.startswith("whsec_")
    assert new_secret != old_secret
    await shown.get_by_role("button", name="I have copied it").click()

    web.page.once("dialog", lambda dialog: dialog.accept())
    await menu.click()
    await row.get_by_role("button", name="Delete").click()
    await expect(flash(web.page)).to_contain_text("is deleted")
    await expect(web.page.get_by_text("No webhooks yet")).to_be_visible()


async def test_the_sandbox_page_makes_a_lapse_and_check_now_shows_it(
    web: Web, connected: Connected
) -> None:
    # Alice's grant to another data source (Google Ads, which the sandbox stands in for).
    elsewhere = await connect_provider(connected.org.api, "google_ads", username="alice")
    await web.sign_in(await web.admin_email())
    await web.page.goto("/settings/sandbox")
    await expect(web.page.get_by_text("The sandbox is Sandbox Ads")).to_be_visible()
    card = web.page.get_by_role("region", name="Alice Martin Sandbox Ads")
    await expect(card).to_contain_text("Active")
    await expect(card).to_contain_text("alice")

    await card.get_by_role("button", name="Revoke access").click()
    message = flash(web.page)
    await expect(message).to_contain_text("revoked the access Alice Martin (alice) gave Tether")
    grants = await connected.tether.sandbox("GET", "/grants", params={"username": "alice"})
    assert sorted(str(grant["revoked_reason"]) for grant in grants) == ["None", "token_revoked"]
    other = await connected.org.api.post(f"/api/v1/authorizations/{elsewhere['id']}/check")
    assert other.json()["status"] == "active"  # only this data source's grant was revoked

    await message.get_by_role("button", name="Check now").click()
    await expect(message).to_contain_text("Alice Martin: Needs reconnecting.")
    await expect(card.locator(".badge")).to_have_text("Needs reconnecting")
    await expect(card.get_by_role("button", name="Reconnect")).to_be_visible()
    await web.screenshot("settings-sandbox")

    await message.get_by_role("link", name="Connections").click()
    tabs = web.page.get_by_role("navigation", name="Connection status")
    await expect(
        tabs.get_by_role("link", name=re.compile(r"Needs reconnecting \(2\)"))
    ).to_be_visible()


async def test_the_sandbox_takes_an_account_away_and_goes_down(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/settings/sandbox")
    card = web.page.get_by_role("region", name=re.compile("Alice Martin"))
    account = connected.accounts[0]
    await card.get_by_role("button", name=f"Remove access to {account['name']}").click()
    await expect(flash(web.page)).to_contain_text(
        f"can no longer reach account {account['external_id']}"
    )
    await expect(
        card.get_by_role("row", name=re.compile(re.escape(account["name"])))
    ).to_contain_text("Access removed")
    await flash(web.page).get_by_role("button", name="Check now").click()
    await expect(flash(web.page)).to_contain_text("Checked now.")
    statuses = await connected.connection_statuses()
    assert statuses[account["external_id"]] == "needs_reconnect"
    assert statuses[connected.accounts[1]["external_id"]] == "active"

    await card.get_by_role("button", name=f"Restore access to {account['name']}").click()
    await expect(flash(web.page)).to_contain_text("again")
    await expect(
        card.get_by_role("row", name=re.compile(re.escape(account["name"])))
    ).not_to_contain_text("Access removed")
    await settled(web.page)

    platform = web.page.get_by_role("region", name="The whole platform")
    await platform.get_by_role("button", name="Take the provider down").click()
    await expect(flash(web.page)).to_contain_text("Sandbox Ads is down")
    await expect(platform).to_contain_text("Down")
    await settled(web.page)
    faults = await connected.tether.sandbox("GET", "/faults")
    assert faults["global"]["down"] is True
    await platform.get_by_role("button", name="Bring the provider up").click()
    await expect(platform.get_by_text("Up", exact=True)).to_be_visible()


async def test_an_expired_token_that_cannot_be_refreshed_needs_reconnecting(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/settings/sandbox")
    card = web.page.get_by_role("region", name=re.compile("Alice Martin"))
    await card.get_by_role("button", name="Expire token").click()
    await expect(flash(web.page)).to_contain_text("cannot renew them")
    await settled(web.page)
    await card.get_by_role("button", name="Check now").click()
    await expect(flash(web.page)).to_contain_text("Alice Martin: Needs reconnecting.")
    await expect(card.locator(".badge")).to_have_text("Needs reconnecting")
    statuses = await connected.connection_statuses()
    assert set(statuses.values()) == {"needs_reconnect"}


async def test_reconnecting_from_the_sandbox_page_restores_every_connection(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/settings/sandbox")
    card = web.page.get_by_role("region", name=re.compile("Alice Martin"))
    box = card.get_by_label("New password")
    # Never the current password, in the clear, ready to be read over a shoulder.
    await expect(box).to_have_value("")
    await expect(box).to_have_attribute("type", "password")
    await box.fill("a-brand-new-password")
    await card.get_by_role("button", name="Change password").click()
    await expect(flash(web.page)).to_contain_text("has a new password")
    await flash(web.page).get_by_role("button", name="Check now").click()
    await expect(card.locator(".badge")).to_have_text("Needs reconnecting")

    await web.consent_in_popup(
        card.get_by_role("button", name="Reconnect"), password="a-brand-new-password"
    )
    await expect(card.locator(".badge")).to_have_text("Active")
    assert set((await connected.connection_statuses()).values()) == {"active"}


def _request(settings: Settings) -> Any:
    runtime = SimpleNamespace(http=None)
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(settings=settings,
                                                                     runtime=runtime)))  # fmt: skip


def test_the_sandbox_is_found_where_the_sandbox_provider_finds_it() -> None:
    mounted = control_of(_request(Settings(port=8123)))
    assert mounted is not None
    assert mounted.base_url == "http://127.0.0.1:8123/sandbox"
    elsewhere = control_of(_request(Settings(mount_sandbox=False, sandbox_url="http://sbx:9000/")))
    assert elsewhere is not None
    assert elsewhere.base_url == "http://sbx:9000"
    assert control_of(_request(Settings(mount_sandbox=False))) is None


async def test_a_sandbox_that_does_not_answer_is_named_not_a_crash() -> None:
    async with httpx.AsyncClient() as http:
        control = Control(http, "http://127.0.0.1:9/sandbox")
        with pytest.raises(SandboxUnavailable, match="could not reach the sandbox at http://127"):
            await control.call("GET", "/faults")
