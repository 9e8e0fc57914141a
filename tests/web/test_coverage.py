"""The Coverage screen: lapsed accounts at the top, a strip of days per connection, why a gap is
there, and the gap closing once the connection is back."""

import re
from datetime import date, timedelta
from typing import Any

import time_machine
from playwright.async_api import expect

from tests.fixtures.browser import Web, expect_days
from tests.fixtures.connected import Connected
from tether.db import utcnow


async def _sync(connected: Connected, n: int, **body: Any) -> None:
    connection_id = connected.connections[n]["id"]
    synced = await connected.tether.sync(connected.org.api, connection_id, **body)
    assert synced["outcome"] == "synced", synced


def _label(day: date) -> str:
    return day.strftime("%-d %b %Y")


def _range(first: date, last: date) -> str:
    start = first.strftime("%-d %b") if first.year == last.year else _label(first)
    return f"{start} \N{EN DASH} {_label(last)}"


async def test_a_lapse_leaves_a_gap_during_an_incident_that_reconnecting_backfills(
    web: Web, connected: Connected
) -> None:
    await _sync(connected, 0)
    await _sync(connected, 1)
    await connected.lapse()
    lapsed_on = utcnow().date()

    with time_machine.travel(utcnow() + timedelta(days=5), tick=True):
        await web.sign_in(await web.admin_email())
        await web.page.goto("/coverage")
        await expect(web.coverage_stat("Lapsed accounts")).to_have_text("2")
        await expect(web.coverage_stat("Connections with gaps")).to_have_text("2")
        await expect(web.coverage_stat("Days missing")).to_have_text("8")

        north = web.coverage_row("Northwind Outfitters")
        # 30 days ending today: loaded up to the lapse, four days lost to it, today still going.
        await expect_days(north.locator(".day.loaded"), 25)
        # The four days lost to the lapse are one mark: one button, whose dialog tells of them.
        gap = north.locator("button.day.incident")
        await expect(gap).to_have_count(1)
        await expect_days(gap, 4)
        first, last = lapsed_on + timedelta(days=1), lapsed_on + timedelta(days=4)
        await expect(gap).to_have_accessible_name(
            f"{_range(first, last)}: missing during an incident"
        )
        await expect(north).to_contain_text("25 of 29 days loaded · 4 missing")
        await expect(north.get_by_text("Needs reconnecting")).to_be_visible()
        await web.screenshot("coverage")

        await gap.click()
        dialog = web.page.get_by_role("dialog", name=re.compile("^Missing: "))
        await expect(dialog.get_by_role("heading", level=2)).to_have_text(
            f"Missing: {_range(first, last)} (4 days)"
        )
        await expect(dialog).to_contain_text("Lapse")
        await expect(dialog).to_contain_text("still open")
        await expect(dialog.get_by_text(re.compile("revoked", re.I)).first).to_be_visible()
        await expect(dialog).to_contain_text("Nothing loads until someone reconnects")
        await web.screenshot("coverage-gap")

        await web.consent_in_popup(dialog.get_by_role("button", name="Reconnect"))
        await expect(dialog).to_be_hidden()
        await expect(web.coverage_stat("Lapsed accounts")).to_have_text("0")
        # Access is back: both connections are due, so their gaps are being backfilled.
        await expect_days(north.locator("button.day.backfilling"), 4)
        blue = web.coverage_row("Blue Fjord Coffee")
        await expect_days(blue.locator("button.day.backfilling"), 4)

        await north.locator("button.day.backfilling").first.click()
        dialog = web.page.get_by_role("dialog", name=re.compile("^Missing: "))
        await expect(dialog).to_contain_text("Being backfilled")
        await expect(dialog).to_contain_text("(reconnected)")
        await dialog.get_by_role("button", name="Sync now").click()
        await expect(web.page.locator("#flash")).to_contain_text(
            "Northwind Outfitters: queued to load its missing days"
        )
        assert await connected.tether.run_queued_syncs() == 1
        await expect(web.page.locator("#flash")).to_contain_text(
            "Northwind Outfitters: 5 days loaded"
        )
        await expect(north.locator("button.day")).to_have_count(0)
        await expect_days(north.locator(".day.loaded"), 30)
        await expect(north).to_contain_text("30 of 30 days loaded")
        await expect_days(blue.locator("button.day.backfilling"), 4)


async def test_new_connections_are_backfilled_and_sync_now_loads_their_history(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/coverage")
    north = web.coverage_row("Northwind Outfitters")
    # Never loaded yet, and due: the whole history is on its way.
    await expect_days(north.locator("button.day.backfilling"), 29)
    await expect_days(north.locator(".day.pending"), 1)
    await expect(web.coverage_stat("Connections with gaps")).to_have_text("2")
    await expect(web.coverage_stat("Days missing")).to_have_text("58")
    await expect(web.coverage_stat("Lapsed accounts")).to_have_text("0")

    await north.locator("button.day").first.click()
    dialog = web.page.get_by_role("dialog", name=re.compile("^Missing: "))
    await expect(dialog).to_contain_text("Being backfilled")
    await expect(dialog).to_contain_text("No incident covered these days.")
    await dialog.get_by_role("button", name="Sync now").click()
    await expect(web.page.locator("#flash")).to_contain_text("queued to load its missing days")
    assert await connected.tether.run_queued_syncs() == 1
    await expect_days(north.locator(".day.loaded"), 30)
    await expect(web.coverage_stat("Connections with gaps")).to_have_text("1")
    await expect(web.coverage_stat("Days missing")).to_have_text("29")

    await web.page.get_by_role("link", name="Last 90 days").click()
    await expect(web.page).to_have_url(re.compile(r"days=90"))
    await expect_days(north.locator(".day.loaded"), 90)
    blue = web.coverage_row("Blue Fjord Coffee")
    await expect_days(blue.locator(".strip .day"), 90)
    await expect(web.coverage_stat("Days missing")).to_have_text("89")


async def test_days_the_provider_no_longer_serves_are_unrecoverable(
    web: Web, connected: Connected
) -> None:
    await connected.tether.sandbox("PUT", "/settings", json={"history_days": 30})
    await _sync(connected, 0)
    await web.sign_in(await web.admin_email())
    await web.page.goto("/coverage?days=90")

    north = web.coverage_row("Northwind Outfitters")
    await expect_days(north.locator("button.day.unrecoverable"), 59)
    await expect(north).to_contain_text("31 of 90 days loaded · 59 unrecoverable")
    await north.locator("button.day.unrecoverable").first.click()
    dialog = web.page.get_by_role("dialog", name=re.compile("^Unrecoverable: "))
    await expect(dialog).to_contain_text("(59 days)")
    await expect(dialog).to_contain_text("no longer serves these days")
    await expect(dialog.get_by_role("button", name="Sync now")).to_have_count(0)


async def test_the_lapsed_count_and_filters_narrow_the_rows(web: Web, connected: Connected) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/coverage")
    await expect(web.page.locator("table.list tbody tr")).to_have_count(2)

    await connected.lapse()
    await web.page.reload()
    await expect(web.coverage_stat("Lapsed accounts")).to_have_text("2")
    await expect(web.coverage_stat("Lapsed accounts")).to_have_class(re.compile("bad"))

    await web.page.get_by_label("Client").fill("Blue Fjord Coffee")
    await web.page.get_by_role("button", name="Filter").click()
    await expect(web.page.locator("table.list tbody tr")).to_have_count(1)
    await expect(web.coverage_stat("Lapsed accounts")).to_have_text("1")

    await web.page.get_by_label("Client").fill("Nobody Inc")
    await web.page.get_by_role("button", name="Filter").click()
    await expect(web.page.get_by_text("There is no client called “Nobody Inc”")).to_be_visible()

    await web.page.get_by_role("link", name="Clear filters").click()
    await web.page.get_by_label("Provider").select_option("google_ads")
    await web.page.get_by_role("button", name="Filter").click()
    await expect(web.page.get_by_text("No connection matches these filters.")).to_be_visible()

    await web.page.get_by_role("link", name="Clear filters").click()
    await web.page.get_by_role("link", name="Show their connections").click()
    await expect(web.page.get_by_label("Status")).to_have_value("needs_reconnect")
    await expect(web.page.locator("table.list tbody tr")).to_have_count(2)


async def test_staff_see_only_their_clients_rows_and_gaps(web: Web, connected: Connected) -> None:
    mine, theirs = connected.clients
    await connected.lapse()
    await web.sign_in(await web.member("staff", clients=[mine["id"]]))
    await web.page.goto("/coverage")

    rows = web.page.locator("table.list tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text(mine["name"])
    await expect(web.coverage_stat("Lapsed accounts")).to_have_text("1")
    await expect(web.coverage_stat("Connections with gaps")).to_have_text("1")

    today = utcnow().date().isoformat()
    hidden = await web.page.goto(f"/coverage/gaps/{connected.connections[1]['id']}?day={today}")
    assert hidden is not None
    assert hidden.status == 404
    other = await web.page.goto(f"/coverage?client={theirs['name']}")
    assert other is not None
    await expect(
        web.page.get_by_text(f"There is no client called “{theirs['name']}”")
    ).to_be_visible()


async def test_viewers_see_why_but_cannot_act(web: Web, connected: Connected) -> None:
    await connected.lapse()
    await web.sign_in(await web.member("viewer"))
    await web.page.goto("/coverage")
    await web.coverage_row("Northwind Outfitters").locator("button.day").first.click()
    dialog = web.page.get_by_role("dialog", name=re.compile("^Missing: "))
    await expect(dialog).to_contain_text("Viewers can look but not act")
    await expect(dialog.get_by_role("button", name="Reconnect")).to_have_count(0)
    await expect(dialog.get_by_role("button", name="Sync now")).to_have_count(0)


async def test_a_gap_opens_from_the_keyboard_and_bad_input_is_explained(
    web: Web, connected: Connected
) -> None:
    await web.sign_in(await web.admin_email())
    await web.page.goto("/coverage")
    first_gap = web.coverage_row("Blue Fjord Coffee").locator("button.day").first
    for _ in range(40):
        await web.page.keyboard.press("Tab")
        if await first_gap.evaluate("node => node === document.activeElement"):
            break
    await expect(first_gap).to_be_focused()
    await web.page.keyboard.press("Enter")
    dialog = web.page.get_by_role("dialog", name=re.compile("^Missing: "))
    await expect(dialog).to_be_visible()
    await web.page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()

    week = await web.page.goto("/coverage?days=7")
    assert week is not None
    assert week.status == 400
    await expect(web.page.get_by_role("alert")).to_contain_text("Show the last 30 or 90 days")
    connection_id = connected.connections[0]["id"]
    garbled = await web.page.goto(f"/coverage/gaps/{connection_id}?day=yesterday")
    assert garbled is not None
    assert garbled.status == 422
    await expect(web.page.get_by_role("alert")).to_contain_text("day")
    future = (utcnow().date() + timedelta(days=3)).isoformat()
    later = await web.page.goto(f"/coverage/gaps/{connection_id}?day={future}")
    assert later is not None
    assert later.status == 422
    await expect(web.page.get_by_role("alert")).to_contain_text("Pick a day")
