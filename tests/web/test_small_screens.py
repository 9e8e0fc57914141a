"""Every screen works from a 360 px phone up: nothing runs off the side, tables turn into cards
with the status and the actions first, dialogs fit, and the header stays one compact row."""

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.async_api import FloatRect, Locator, Page, expect

from tests.fixtures.browser import Web
from tests.fixtures.connected import Connected
from tests.fixtures.smtp import Mailbox
from tests.notifications.test_email import deliver
from tether.models import Event

WIDTHS = (360, 768, 1280)
HEIGHT = 800

# What runs off the side: the page's own width, then any element whose box leaves the viewport,
# unless an ancestor inside the viewport clips it from view (as the header row of a list shown as
# cards is, for screen readers only). The skip link waits off-screen on purpose. An ancestor that
# would scroll sideways is no excuse: nothing should need to.
OVERFLOW = """() => {
  const width = window.innerWidth;
  const found = [];
  const page = document.documentElement.scrollWidth;
  if (page > width) found.push(`the page is ${page} px wide`);
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.classList.length ? "." + [...el.classList].join(".") : "")
    + (el.textContent.trim() ? ` "${el.textContent.trim().replace(/\\s+/g, " ").slice(0, 40)}"`
      : "");
  const clipped = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (style.overflowX !== "hidden" && style.overflowX !== "clip") continue;
      const box = up.getBoundingClientRect();
      if (box.left >= -0.5 && box.right <= width + 0.5) return true;
    }
    return false;
  };
  // How far right an element reaches, its text and labels (pseudo-elements) included.
  const reach = (el) => {
    const box = el.getBoundingClientRect();
    const spills = getComputedStyle(el).overflowX === "visible" && el.clientWidth > 0;
    return Math.max(box.right, spills ? box.left + el.scrollWidth : box.right);
  };
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest(".skip")) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.left >= -0.5 && reach(el) <= width + 0.5) continue;
    if (clipped(el)) continue;
    // Name the innermost culprit, not every box around it.
    if ([...el.children].some((child) => reach(child) > width + 0.5 && !clipped(child))) continue;
    found.push(`${name(el)} spans ${Math.round(box.left)}..${Math.round(reach(el))} px`);
  }
  return found.slice(0, 6);
}"""


@dataclass
class Tour:
    """One width's walk through the screens; what ran off the side, by screen."""

    web: Web
    width: int
    problems: list[str] = field(default_factory=list)

    @property
    def page(self) -> Page:
        return self.web.page

    async def look(self, screen: str) -> None:
        """Keep a screenshot of the screen as it is now, and note anything off the side."""
        await self.web.screenshot(f"small-{screen}-{self.width}")
        found: list[str] = await self.page.evaluate(OVERFLOW)
        self.problems += [f"{screen} at {self.width} px: {problem}" for problem in found]

    async def visit(self, screen: str, path: str) -> None:
        response = await self.page.goto(path)
        assert response is not None
        await self.page.wait_for_load_state("networkidle")
        await self.look(screen)

    async def dialog(self, screen: str, opener: Locator, name: str | re.Pattern[str]) -> None:
        """Open a dialog, look at it, and close it with Escape."""
        await opener.click()
        dialog = self.page.get_by_role("dialog", name=name)
        await expect(dialog).to_be_visible()
        await self.look(screen)
        box = await dialog.bounding_box()
        assert box is not None
        if box["x"] < 0 or box["x"] + box["width"] > self.width:
            self.problems.append(
                f"{screen} at {self.width} px: the dialog is wider than the screen"
            )
        await self.page.keyboard.press("Escape")
        await expect(dialog).to_be_hidden()


async def _fill(web: Web, connected: Connected) -> dict[str, Any]:
    """Enough of everything that each list has rows: a staff member, a webhook with deliveries,
    a connection that lapsed and works again, and one that is still lapsed."""
    await web.member("staff", clients=[connected.clients[0]["id"]])
    hook = {"url": "https://hooks.example.com/tether/lapses", "description": "Reporting alerts",
            "events": [event.value for event in Event]}  # fmt: skip
    webhook = await connected.org.api.post("/api/v1/webhooks", json=hook)
    assert webhook.status_code == 201, webhook.text
    back = connected.accounts[1]["external_id"]
    await connected.remove_access(1)
    await connected.tether.sandbox("PUT", f"/users/alice/accounts/{back}")
    await connected.check()
    await connected.remove_access(0)
    listed = await connected.org.api.get("/api/v1/notifications")
    link = next(n["reconnect_url"] for n in listed.json()["data"] if n["reconnect_url"])
    return {"webhook": webhook.json()["id"], "reconnect": "/reconnect/" + link.rsplit("/", 1)[1]}


async def _header_fits(tour: Tour) -> None:
    """Wide, the header is one row; narrow, the navigation folds behind a Menu button."""
    page, nav = tour.page, tour.page.get_by_role("navigation", name="Main")
    links = nav.get_by_role("link")
    menu = page.get_by_role("button", name="Menu")
    if tour.width >= 1280:
        await expect(menu).to_be_hidden()
        parts = [page.locator("header.top .brand"), page.locator("#bell-button"),
                 page.get_by_role("button", name="Sign out")]  # fmt: skip
        middles = []
        for part in [*await links.all(), *parts]:
            box = await part.bounding_box()
            assert box is not None
            middles.append(box["y"] + box["height"] / 2)
        assert max(middles) - min(middles) < 6, f"The header wraps at {tour.width} px: {middles}"
        return
    header = await page.locator("header.top").bounding_box()
    assert header is not None
    assert header["height"] < 64, f"The header is {header['height']} px high at {tour.width} px"
    await expect(links.first).to_be_hidden()
    await expect(menu).to_have_attribute("aria-expanded", "false")
    await menu.click()
    await expect(menu).to_have_attribute("aria-expanded", "true")
    await expect(links).to_have_count(7)
    for link in await links.all():
        await expect(link).to_be_in_viewport()
    await tour.look("navigation-menu")
    await page.keyboard.press("Escape")
    await expect(links.first).to_be_hidden()
    await expect(menu).to_be_focused()


def _within(box: FloatRect, width: int) -> bool:
    return box["x"] >= 0 and box["x"] + box["width"] <= width


async def _reconnect_within_reach(tour: Tour, client: str) -> None:
    """A lapsed row shows its status and its menu on screen; the menu's Reconnect can be used."""
    row = tour.page.get_by_role("row", name=re.compile(client))
    status = row.get_by_text("Needs reconnecting", exact=True)
    menu = row.get_by_label(re.compile(f"Actions for {client}"))
    for part in (status, menu):
        await expect(part).to_be_visible()
        box = await part.bounding_box()
        assert box is not None
        assert _within(box, tour.width), f"Connections at {tour.width} px: {box} is off the side"
    await menu.click()
    reconnect = row.get_by_role("button", name="Reconnect")
    await expect(reconnect).to_be_in_viewport(ratio=1)
    box = await reconnect.bounding_box()
    assert box is not None
    assert _within(box, tour.width), f"Reconnect at {tour.width} px: {box} is off the side"
    await reconnect.click(trial=True)
    await tour.look("connections-actions-menu")
    await tour.page.keyboard.press("Escape")
    await expect(reconnect).to_be_hidden()


# The layout does not depend on the database: one backend is enough for these.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("width", WIDTHS)
async def test_every_screen_fits_the_width_without_sideways_scrolling(
    web: Web, connected: Connected, smtp: Mailbox, width: int
) -> None:
    made = await _fill(web, connected)
    admin = await web.admin_email()
    await web.page.set_viewport_size({"width": width, "height": HEIGHT})
    tour = Tour(web, width)
    page = web.page

    await tour.visit("sign-in", "/login")
    await web.sign_in_here(admin)
    await page.wait_for_url("**/connections*")
    await page.wait_for_load_state("networkidle")
    await tour.look("connections")
    await _header_fits(tour)
    await _reconnect_within_reach(tour, connected.clients[0]["name"])
    await tour.dialog(
        "connect-a-client",
        page.get_by_role("button", name="Connect a client"),
        "Connect a client",
    )
    row = page.get_by_role("row", name=re.compile(connected.clients[0]["name"]))
    await row.get_by_label(re.compile("Actions for")).click()
    await tour.dialog(
        "switch-account", row.get_by_role("button", name="Switch account"), re.compile("Switch")
    )

    await tour.visit("data-sources", "/sources")
    sandbox = page.get_by_role("article", name="Sandbox Ads", exact=True)
    await tour.dialog(
        "connection-settings",
        sandbox.get_by_role("button", name="Connection settings"),
        re.compile("connection settings"),
    )
    keyed = page.get_by_role("article", name="Sandbox Ads (API key)")
    await tour.dialog(
        "api-key-form",
        keyed.get_by_role("button", name="Connect Sandbox Ads (API key)"),
        "Connect Sandbox Ads (API key)",
    )
    # Every platform is available here; the guide still opens for one, as its card would open it.
    await page.evaluate("htmx.ajax('GET', '/sources/linkedin_ads/setup', '#dialog-slot')")
    dialog = page.get_by_role("dialog", name=re.compile("Set up"))
    await expect(dialog).to_be_visible()
    await tour.look("setup-guide")
    await page.keyboard.press("Escape")

    await tour.visit("integrations", "/integrations")
    rows = page.get_by_role("table", name="Integrations").locator("tbody")
    await rows.get_by_role("link").first.click()
    await page.wait_for_load_state("networkidle")
    await tour.look("integration")
    await tour.visit("coverage", "/coverage")
    await tour.visit("incidents", "/incidents?state=all")
    await tour.visit("audit-log", "/audit")
    await tour.visit("notifications", "/notifications")
    await page.get_by_role("button", name=re.compile("^Notifications, ")).click()
    await expect(page.get_by_role("region", name="Latest notifications")).to_be_visible()
    await (
        page.get_by_role("region", name="Latest notifications")
        .get_by_role("listitem")
        .first.wait_for()
    )
    await tour.look("notifications-panel")
    await tour.visit("notification-settings", "/notifications/settings")

    await tour.visit("settings-members", "/settings/members")
    await tour.dialog(
        "invite-a-member", page.get_by_role("button", name="Invite a member"), "Invite a member"
    )
    await tour.visit("settings-webhooks", "/settings/webhooks")
    await tour.dialog(
        "add-a-webhook", page.get_by_role("button", name="Add a webhook"), "Add a webhook"
    )
    await tour.visit("webhook-deliveries", f"/settings/webhooks/{made['webhook']}")
    # The admin's mail server refuses them for good: their lapse emails are given up.
    smtp.refused_recipients = {admin: "550 5.1.1 No such user here"}
    await deliver(connected.tether)
    await tour.visit("settings-undelivered-emails", "/settings/undelivered-emails")
    await tour.visit("settings-sandbox", "/settings/sandbox")
    await tour.visit("reconnect-link", made["reconnect"])
    await tour.visit("oauth-result", "/oauth/callback?error=access_denied")
    await tour.visit("error", f"/integrations/{uuid.uuid4()}")

    assert not tour.problems, "\n".join(tour.problems)


def _rgb(css: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", css)[:3])


async def _colour(item: Locator, selector: str, prop: str) -> tuple[int, ...]:
    """A computed colour of the item, or of the first element in it that the selector finds."""
    script = f"(el, sel) => getComputedStyle(sel ? el.querySelector(sel) : el)['{prop}']"
    return _rgb(await item.evaluate(script, selector))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_works_again_notification_is_green_where_a_lapse_is_red(
    web: Web, connected: Connected
) -> None:
    await _fill(web, connected)
    await web.sign_in(await web.admin_email())
    await web.page.get_by_role("button", name=re.compile("^Notifications, 3 unread")).click()
    panel = web.page.get_by_role("region", name="Latest notifications")
    notes = panel.get_by_role("listitem")
    works_again = notes.filter(has_text="works again")
    lapse = notes.filter(has=web.page.get_by_role("button", name="Reconnect"))
    await expect(works_again).to_have_class(re.compile(r"\bkind-recovery\b"))
    await expect(lapse).to_have_class(re.compile(r"\bkind-lapse\b"))
    for selector, prop in (("", "borderLeftColor"), (".unread-mark", "backgroundColor")):
        good = await _colour(works_again, selector, prop)
        bad = await _colour(lapse, selector, prop)
        assert good != bad, f"{selector or 'the note'}: {prop} is {good} for both"
        assert good[1] > good[0], f"{prop}: {good} is not green"
        assert bad[0] > bad[1], f"{prop}: {bad} is not red"
    await web.screenshot("notifications-panel-works-again")

    await web.page.goto("/notifications")
    rows = web.page.get_by_role("table", name="Notifications").locator("tbody tr")
    works_again = rows.filter(has_text="works again")
    lapse = rows.filter(has=web.page.get_by_role("button", name="Reconnect"))
    await expect(works_again).to_have_class(re.compile(r"\bkind-recovery\b"))
    good = await _colour(works_again, ".unread-mark", "backgroundColor")
    bad = await _colour(lapse, ".unread-mark", "backgroundColor")
    assert good[1] > good[0], f"{good} is not green"
    assert bad[0] > bad[1], f"{bad} is not red"
    good = await _colour(works_again, "td", "backgroundColor")
    bad = await _colour(lapse, "td", "backgroundColor")
    assert good != bad, f"both rows' background is {good}"
    assert good[1] > good[0], f"the works-again row's background {good} is not green"
