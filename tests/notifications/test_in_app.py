"""In-app notifications: the right people hear of a lapse, once, with a way back."""

from typing import Any

import httpx

from tests.fixtures.connected import Connected


async def _notifications(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await api.get("/api/v1/notifications", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def _revoke_and_check(connected: Connected, times: int = 1) -> None:
    await connected.tether.sandbox("POST", "/users/alice/grants/revoke")
    for _ in range(times):
        await connected.check()


async def test_a_lapse_notifies_admins_and_staff_who_see_an_affected_client(
    connected: Connected,
) -> None:
    northwind, _fjord = connected.clients
    sees_one = await connected.org.member("staff", clients=[northwind["id"]])
    sees_none = await connected.org.member("staff", clients=[])
    viewer = await connected.org.member("viewer")

    await _revoke_and_check(connected, times=3)

    (admin_sees,) = await _notifications(connected.org.api)
    assert admin_sees["event"] == "authorization.lapsed"
    assert admin_sees["provider"] == "sandbox"
    assert sorted(admin_sees["clients"]) == ["Blue Fjord Coffee", "Northwind Outfitters"]
    assert "needs reconnecting" in admin_sees["message"]
    assert admin_sees["reconnect_url"].startswith(connected.tether.settings.resolved_public_url)
    (staff_sees,) = await _notifications(sees_one)
    assert staff_sees["clients"] == ["Northwind Outfitters"]
    assert await _notifications(sees_none) == []
    assert await _notifications(viewer) == []


async def test_unread_count_and_marking_read(connected: Connected) -> None:
    await _revoke_and_check(connected)
    api = connected.org.api

    assert (await api.get("/api/v1/notifications/unread-count")).json() == {"unread": 1}
    (notification,) = await _notifications(api, unread=True)
    marked = await api.post(f"/api/v1/notifications/{notification['id']}/read")

    assert marked.json() == {"marked": 1}
    assert (await api.get("/api/v1/notifications/unread-count")).json() == {"unread": 0}
    assert await _notifications(api, unread=True) == []
    assert (await api.post("/api/v1/notifications/read")).json() == {"marked": 0}


async def test_recovery_resolves_the_lapse_and_says_so(connected: Connected) -> None:
    lost = connected.accounts[0]
    await connected.tether.sandbox("DELETE", f"/users/alice/accounts/{lost['external_id']}")
    await connected.check()
    await connected.tether.sandbox("PUT", f"/users/alice/accounts/{lost['external_id']}")
    await connected.check()

    restored, lapsed = await _notifications(connected.org.api)

    assert (restored["event"], lapsed["event"]) == ("connection.restored", "connection.lapsed")
    assert lapsed["resolved_at"] is not None
    assert lapsed["reconnect_url"] is None


async def test_members_can_opt_out_of_in_app_notifications(connected: Connected) -> None:
    api = connected.org.api
    choice = [{"event": "authorization.lapsed", "channel": "in_app", "enabled": False}]

    saved = await api.put("/api/v1/notification-preferences", json=choice)
    await _revoke_and_check(connected)

    assert saved.status_code == 200
    entry = next(
        p for p in saved.json()["data"]
        if (p["event"], p["channel"]) == ("authorization.lapsed", "in_app")
    )  # fmt: skip
    assert entry["enabled"] is False
    assert await _notifications(api) == []


async def test_bad_preferences_are_refused(connected: Connected) -> None:
    response = await connected.org.api.put(
        "/api/v1/notification-preferences",
        json=[{"event": "authorization.exploded", "channel": "in_app", "enabled": True}],
    )

    assert response.status_code == 422


async def test_a_reconnect_link_opens_exactly_its_authorization(connected: Connected) -> None:
    await _revoke_and_check(connected)
    (notification,) = await _notifications(connected.org.api)
    token = notification["reconnect_url"].rsplit("/", 1)[1]

    opened = await connected.org.api.get(f"/api/v1/reconnect-links/{token}")

    assert opened.status_code == 200
    assert opened.json()["authorization_id"] == connected.id
    assert opened.json()["status"] == "needs_reconnect"


async def test_forged_expired_and_foreign_links_are_refused(
    connected: Connected, other_org: Any
) -> None:
    import time_machine

    from tether.db import utcnow

    await _revoke_and_check(connected)
    (notification,) = await _notifications(connected.org.api)
    token = notification["reconnect_url"].rsplit("/", 1)[1]
    key_id, payload, signature = token.split(".")
    forged = f"{key_id}.{payload[:-2]}AA.{signature}"

    refused = await connected.org.api.get(f"/api/v1/reconnect-links/{forged}")
    foreign = await other_org.api.get(f"/api/v1/reconnect-links/{token}")
    with time_machine.travel(utcnow().timestamp() + 15 * 86400, tick=True):
        expired = await connected.org.api.get(f"/api/v1/reconnect-links/{token}")

    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "link_invalid"
    assert foreign.status_code == 403
    assert "another organization" in foreign.json()["error"]["message"]
    assert expired.status_code == 410
    assert "expired" in expired.json()["error"]["message"]


async def test_the_link_lands_on_a_page_that_says_what_to_do(connected: Connected) -> None:
    await _revoke_and_check(connected)
    (notification,) = await _notifications(connected.org.api)

    async with httpx.AsyncClient() as browser:
        page = await browser.get(notification["reconnect_url"])
        forged = await browser.get(notification["reconnect_url"][:-3] + "xyz")

    # Signed out: sign in first, then land on the lapse (tests/web/test_notifications.py).
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=%2Freconnect%2F")
    assert forged.status_code == 404
    assert "not valid" in forged.text
