"""Settings, Members: an admin sees a member's API tokens and revokes one."""

import asyncio
import re
import uuid
from datetime import datetime

from playwright.async_api import Route, expect

from tests.fixtures.browser import Web
from tether.web.templating import when


async def test_an_admin_revokes_a_members_api_token_and_it_stops_working(web: Web) -> None:
    email = await web.member("staff")
    members = (await web.org.api.get("/api/v1/members")).json()["data"]
    member_id = next(m["id"] for m in members if m["email"] == email)
    script = await web.org.client_for(uuid.UUID(member_id))
    created = await script.post(
        "/api/v1/tokens", json={"name": "Looker Studio export", "expires_in_days": 30}
    )
    assert created.status_code == 201, created.text
    export = created.json()
    spare = await script.post("/api/v1/tokens", json={"name": "Spare"})
    assert spare.status_code == 201, spare.text
    bearer = {"Authorization": f"Bearer {export['token']}"}
    assert (await script.get("/api/v1/clients", headers=bearer)).status_code == 200
    used = (await web.org.api.get(f"/api/v1/members/{member_id}/tokens")).json()["data"]
    last_used = next(t["last_used_at"] for t in used if t["id"] == export["id"])

    await web.sign_in(await web.admin_email())
    await web.page.goto("/settings/members")
    row = web.page.get_by_role("row", name=re.compile(re.escape(email)))
    await row.get_by_role("button", name="API tokens").click()
    dialog = web.page.get_by_role("dialog", name="API tokens of Staff")
    await expect(dialog).to_be_visible()
    token_row = dialog.get_by_role("row", name=re.compile("Looker Studio export"))
    await expect(token_row.locator("td").nth(1)).to_have_text(f"{export['prefix']}…")
    await expect(token_row.locator("td").nth(3)).to_have_text(
        when(datetime.fromisoformat(last_used))
    )
    await expect(token_row.locator("td").nth(4)).to_have_text(
        when(datetime.fromisoformat(export["expires_at"]))
    )
    unused = dialog.get_by_role("row", name=re.compile("^Spare"))
    await expect(unused.locator("td").nth(3)).to_have_text("Never")
    await expect(unused.locator("td").nth(4)).to_have_text("Never")
    await expect(dialog).not_to_contain_text(export["token"])
    await web.screenshot("settings-member-tokens")

    web.page.once("dialog", lambda confirm: confirm.accept())
    await token_row.get_by_role("button", name="Revoke Looker Studio export").click()

    await expect(web.page.locator("#flash")).to_contain_text(
        f"The API token “Looker Studio export” ({export['prefix']}…) of Staff is revoked"
    )
    await expect(token_row).to_have_count(0)
    await expect(unused).to_be_visible()
    refused = await script.get("/api/v1/clients", headers=bearer)
    assert refused.status_code == 401
    assert (await script.get("/api/v1/clients")).status_code == 200  # their other token
    await script.aclose()


async def test_tokens_revoked_in_quick_succession_all_leave_the_list(web: Web) -> None:
    """Each revoke reloads the list; a reload must not be dropped for an earlier one still on
    its way, or a revoked token would stay listed. The reloads are slowed down here, so each
    revoke comes while the previous one's reload is on its way."""
    email = await web.member("staff")
    members = (await web.org.api.get("/api/v1/members")).json()["data"]
    member_id = next(m["id"] for m in members if m["email"] == email)
    script = await web.org.client_for(uuid.UUID(member_id))
    names = [f"Export {n}" for n in range(5)]
    for name in names:
        assert (await script.post("/api/v1/tokens", json={"name": name})).status_code == 201
    await script.aclose()

    await web.sign_in(await web.admin_email())
    await web.page.goto("/settings/members")
    row = web.page.get_by_role("row", name=re.compile(re.escape(email)))
    await row.get_by_role("button", name="API tokens").click()
    dialog = web.page.get_by_role("dialog", name="API tokens of Staff")
    tokens = dialog.get_by_role("table", name="API tokens").locator("tbody tr")
    await expect(tokens).to_have_count(6)

    async def slowly(route: Route) -> None:
        answer = await route.fetch()  # the list as it is now, arriving a little later
        await asyncio.sleep(0.5)
        await route.fulfill(response=answer)

    await web.page.route(re.compile(r"/settings/members/[^/]+/tokens$"), slowly)
    web.page.on("dialog", lambda confirm: confirm.accept())
    for name in names:
        await dialog.get_by_role("button", name=f"Revoke {name}").click()

    await expect(tokens).to_have_count(1)
    await web.page.wait_for_load_state("networkidle")
    await expect(tokens.locator("td").first).to_have_text("test")
    left = (await web.org.api.get(f"/api/v1/members/{member_id}/tokens")).json()["data"]
    assert [t["name"] for t in left] == ["test"]
