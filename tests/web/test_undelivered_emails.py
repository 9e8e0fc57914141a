"""Settings, Undelivered email: admins see each email Tether gave up on, and why; no one else."""

import re

from playwright.async_api import expect

from tests.fixtures.browser import Web
from tests.fixtures.connected import Connected
from tests.fixtures.smtp import Mailbox
from tests.notifications.test_email import deliver, revoke_and_check

UNKNOWN = "550 5.1.1 No such user here"


async def test_an_admin_sees_an_email_refused_for_good_with_its_reason(
    web: Web, connected: Connected, smtp: Mailbox
) -> None:
    admin = await web.admin_email()
    await web.sign_in(admin)
    await web.page.goto("/settings/members")
    tabs = web.page.get_by_role("navigation", name="Settings")
    await tabs.get_by_role("link", name="Undelivered email").click()
    await expect(tabs.get_by_role("link", name="Undelivered email")).to_have_attribute(
        "aria-current", "page"
    )
    await expect(web.page.get_by_text("No undelivered email.")).to_be_visible()

    # The admin connected the grant, so the lapse is emailed to them: their server refuses it.
    smtp.refused_recipients = {admin: UNKNOWN}
    await revoke_and_check(connected)
    await deliver(connected.tether)
    await web.page.reload()

    table = web.page.get_by_role("table", name="Undelivered email")
    row = table.get_by_role("row", name=re.compile(re.escape(admin)))
    await expect(row).to_have_count(1)
    cells = row.locator("td")
    await expect(cells.nth(0)).to_contain_text("Admin")
    await expect(cells.nth(1)).to_contain_text("A data source needs reconnecting")
    await expect(cells.nth(1)).to_contain_text("Sandbox Ads")
    await expect(cells.nth(2)).to_have_text(UNKNOWN)
    await expect(cells.nth(3)).to_have_text("1")
    await expect(cells.nth(4)).not_to_be_empty()
    await expect(web.page.get_by_text("No undelivered email.")).to_have_count(0)
    assert smtp.received == []
    await web.screenshot("settings-undelivered-emails")


async def test_staff_cannot_see_undelivered_email(
    web: Web, connected: Connected, smtp: Mailbox
) -> None:
    admin = await web.admin_email()
    smtp.refused_recipients = {admin: UNKNOWN}
    await revoke_and_check(connected)
    await deliver(connected.tether)
    staff = await web.member("staff", clients=[connected.clients[0]["id"]])

    await web.sign_in(staff)
    response = await web.page.goto("/settings/undelivered-emails")

    assert response is not None
    assert response.status == 403
    await expect(web.page.get_by_role("alert")).to_have_text(
        "Only admins can see or change Settings."
    )
    await expect(web.page.get_by_text(UNKNOWN)).to_have_count(0)
    await expect(web.page.get_by_text(admin)).to_have_count(0)
