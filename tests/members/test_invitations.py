"""Invitations: how a person joins an organization, and what the organization learns meanwhile."""

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import time_machine

from tests.fixtures.builders import Org
from tests.fixtures.invitations import accept, invitation_link, send_invitations
from tests.fixtures.running import Tether
from tests.fixtures.smtp import Mailbox
from tether.db import utcnow
from tether.web.auth import LOGIN_CSRF_COOKIE

PASSWORD = "correct horse battery"


@pytest.fixture
async def browser(tether: Tether) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without a Tether session: the invitee's."""
    async with httpx.AsyncClient(base_url=tether.base_url, timeout=30) as client:
        yield client


async def invite(org: Org, email: str, role: str = "viewer", **extra: Any) -> dict[str, Any]:
    response = await org.api.post(
        "/api/v1/invitations", json={"email": email, "role": role, **extra}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def listed(org: Org) -> list[dict[str, Any]]:
    return list((await org.api.get("/api/v1/invitations")).json()["data"])


async def test_an_invitee_follows_the_emailed_link_and_joins_with_their_role_and_clients(
    org: Org, tether: Tether, smtp: Mailbox, browser: httpx.AsyncClient
) -> None:
    northwind = await org.client("Northwind")
    await org.client("Blue Fjord")

    invited = await invite(
        org, "Sam@Agency.example.com", "staff", name="Sam", client_access=[northwind["id"]]
    )
    assert (invited["email"], invited["status"], invited["email_status"]) == (
        "sam@agency.example.com", "pending", "sending"
    )  # fmt: skip
    assert invited["client_access"] == [northwind["id"]]
    assert await send_invitations(tether) == 1
    (email,) = [r for r in smtp.received if "sam@agency.example.com" in r.recipients]
    assert "invited you to" in email.subject
    assert "Accept the invitation and choose your password" in email.text
    assert (await listed(org))[0]["email_status"] == "sent"

    link = invitation_link(smtp, "sam@agency.example.com")
    page = await browser.get(link)
    joined = await accept(browser, link, PASSWORD, name="Sam Okafor")

    assert page.headers["cache-control"] == "no-store"
    assert "invited sam@agency.example.com as staff" in page.text
    assert joined.status_code == 303
    assert joined.headers["location"] == "/connections"
    me = await browser.get("/api/v1/members/me", headers={"Accept": "application/json"})
    clients = (await browser.get("/connections", follow_redirects=False)).status_code
    assert clients == 200, "the invitee is signed in by joining"
    members = (await org.api.get("/api/v1/members")).json()["data"]
    sam = next(m for m in members if m["email"] == "sam@agency.example.com")
    assert (sam["name"], sam["role"], sam["client_access"]) == (
        "Sam Okafor", "staff", [northwind["id"]]
    )  # fmt: skip
    assert await listed(org) == []
    again = await browser.get(link)
    assert again.status_code == 404
    assert "no longer valid" in again.text
    assert me.status_code == 401, "the web session is not an API credential"
    audit = (await org.api.get("/api/v1/audit")).json()["data"]
    assert {"member.invited", "member.joined"} <= {e["action"] for e in audit}


async def test_an_address_of_another_organization_is_invited_exactly_like_a_new_one(
    org: Org, other_org: Org, tether: Tether, smtp: Mailbox, browser: httpx.AsyncClient
) -> None:
    await other_org.add_member("viewer", password=PASSWORD)
    taken = (await other_org.api.get("/api/v1/members")).json()["data"][-1]["email"]
    assert taken != "new@agency.example.com"

    answers = [await invite(org, address) for address in (taken, "new@agency.example.com")]
    await send_invitations(tether)
    seen = await listed(org)

    def alike(row: dict[str, Any]) -> dict[str, Any]:
        return {
            k: v for k, v in row.items() if k not in ("id", "email", "created_at", "expires_at")
        }

    assert alike(answers[0]) == alike(answers[1])
    assert len(seen) == 2
    assert alike(seen[0]) == alike(seen[1])
    assert {r["email_status"] for r in seen} == {"sent"}
    # Only the mailbox learns that the address signs in elsewhere.
    link = invitation_link(smtp, taken)
    page = await browser.get(link)
    assert "already signs in to Tether" in page.text
    assert 'name="password"' not in page.text
    refused = await accept_anyway(browser, link)
    assert refused.status_code == 409
    assert (await other_org.api.get("/api/v1/members")).json()["total"] == 2
    inviting = (await org.api.get("/api/v1/members")).json()["data"]
    assert taken not in {m["email"] for m in inviting}, "the other organization's member stays"


async def accept_anyway(browser: httpx.AsyncClient, link: str) -> httpx.Response:
    """Send the join form to a page that offers none, as a crafted request would (its CSRF token
    read from the cookie the page set)."""
    await browser.get(link)
    csrf = browser.cookies.get(LOGIN_CSRF_COOKIE)
    assert csrf
    form = {"csrf_token": csrf, "password": PASSWORD, "password_again": PASSWORD}
    return await browser.post(link, data=form)


async def test_members_and_current_invitations_are_not_invited_twice(org: Org) -> None:
    admin = (await org.api.get("/api/v1/members/me")).json()["email"]
    await invite(org, "pat@agency.example.com")

    member = await org.api.post("/api/v1/invitations", json={"email": admin, "role": "viewer"})
    twice = await org.api.post(
        "/api/v1/invitations", json={"email": "PAT@agency.example.com", "role": "admin"}
    )

    assert (member.status_code, member.json()["error"]["code"]) == (409, "member_exists")
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "already_invited")
    assert "Send that invitation again" in twice.json()["error"]["message"]


async def test_an_expired_invitation_is_shown_refused_and_replaced_by_a_new_one(
    org: Org, tether: Tether, smtp: Mailbox, browser: httpx.AsyncClient
) -> None:
    first = await invite(org, "late@agency.example.com")
    await send_invitations(tether)
    link = invitation_link(smtp, "late@agency.example.com")

    with time_machine.travel(utcnow() + timedelta(days=8)):
        expired = await listed(org)
        page = await browser.get(link)
        second = await invite(org, "late@agency.example.com", "staff")

    assert expired[0]["status"] == "expired"
    assert page.status_code == 410
    assert "This invitation has expired" in page.text
    assert second["id"] != first["id"]
    assert [i["id"] for i in await listed(org)] == [second["id"]]


async def test_resending_replaces_the_link_and_cancelling_ends_it(
    org: Org, tether: Tether, smtp: Mailbox, browser: httpx.AsyncClient
) -> None:
    invited = await invite(org, "kim@agency.example.com")
    await send_invitations(tether)
    old = invitation_link(smtp, "kim@agency.example.com")

    resent = await org.api.post(f"/api/v1/invitations/{invited['id']}/resend")
    await send_invitations(tether)
    new = invitation_link(smtp, "kim@agency.example.com")
    old_page, new_page = await browser.get(old), await browser.get(new)
    cancelled = await org.api.delete(f"/api/v1/invitations/{invited['id']}")
    after = await browser.get(new)

    assert resent.status_code == 200
    assert resent.json()["email_status"] == "sending"
    assert new != old
    assert (old_page.status_code, new_page.status_code) == (404, 200)
    assert cancelled.status_code == 204
    assert after.status_code == 404
    assert await listed(org) == []
    sent = [r for r in smtp.received if "kim@agency.example.com" in r.recipients]
    assert len({r.message["Message-ID"] for r in sent}) == 2


async def test_the_join_form_refuses_a_short_or_mistyped_password_and_keeps_the_invitation(
    org: Org, tether: Tether, smtp: Mailbox, browser: httpx.AsyncClient
) -> None:
    await invite(org, "lee@agency.example.com")
    await send_invitations(tether)
    link = invitation_link(smtp, "lee@agency.example.com")

    short = await accept(browser, link, "short")
    mistyped = await accept(browser, link, PASSWORD, again=PASSWORD + "!")
    forged = await browser.post(link, data={"password": PASSWORD, "password_again": PASSWORD})

    assert short.status_code == mistyped.status_code == 422
    assert "at least 10 characters" in short.text
    assert "not the same" in mistyped.text
    assert forged.status_code == 403, "the form's CSRF token is required"
    assert len(await listed(org)) == 1
    assert (await org.api.get("/api/v1/members")).json()["total"] == 1


async def test_a_link_that_was_never_given_out_is_a_404_page(
    browser: httpx.AsyncClient,
) -> None:
    for token in ("nope", "a.b.c", "k1." + "x" * 40 + ".sig"):
        page = await browser.get(f"/invitations/{token}")
        assert page.status_code == 404
        assert "no longer valid" in page.text


async def test_an_email_the_server_refuses_for_good_is_shown_not_delivered(
    org: Org, tether: Tether, smtp: Mailbox
) -> None:
    smtp.refused_recipients = {"gone@agency.example.com": "550 5.1.1 No such user here"}
    await invite(org, "gone@agency.example.com")

    await send_invitations(tether)

    (row,) = await listed(org)
    assert row["email_status"] == "not_delivered"
    assert row["email_error"] == "550 5.1.1 No such user here"


async def test_bad_invitations_are_refused_and_only_admins_invite(org: Org) -> None:
    staff = await org.member("staff")
    email = await org.api.post("/api/v1/invitations", json={"email": "nope", "role": "staff"})
    role = await org.api.post(
        "/api/v1/invitations", json={"email": "a@agency.example.com", "role": "owner"}
    )
    client = await org.api.post(
        "/api/v1/invitations",
        json={
            "email": "b@agency.example.com",
            "role": "staff",
            "client_access": ["00000000-0000-0000-0000-000000000000"],
        },
    )
    by_staff = await staff.post(
        "/api/v1/invitations", json={"email": "x@agency.example.com", "role": "admin"}
    )
    listing = await staff.get("/api/v1/invitations")
    old_way = await org.api.post(
        "/api/v1/members", json={"email": "c@agency.example.com", "role": "viewer"}
    )

    assert email.status_code == 422
    assert "email" in email.json()["error"]["message"]
    assert role.status_code == 422
    assert "role" in role.json()["error"]["message"]
    assert client.status_code == 404
    assert client.json()["error"]["code"] == "unknown_client"
    assert by_staff.status_code == listing.status_code == 403
    assert by_staff.json()["error"]["message"] == "Only admins can invite members."
    assert old_way.status_code == 410
    assert old_way.json()["error"]["code"] == "use_invitations"
    assert "POST /api/v1/invitations" in old_way.json()["error"]["message"]
    assert await listed(org) == []


async def test_a_new_organizations_first_admin_is_invited_and_joins_through_the_link(
    org: Org, tether: Tether, smtp: Mailbox, browser: httpx.AsyncClient
) -> None:
    created = await org.api.post(
        "/api/v1/organizations",
        json={"name": "Second Agency", "admin_email": "boss@second.example.com"},
    )
    duplicate = await org.api.post(
        "/api/v1/organizations",
        json={"name": "Second Agency", "admin_email": "other@second.example.com"},
    )
    await send_invitations(tether)
    joined = await accept(browser, invitation_link(smtp, "boss@second.example.com"), PASSWORD)

    assert created.status_code == 201
    assert "token" not in created.text
    assert created.json()["invitation"]["role"] == "admin"
    assert duplicate.status_code == 409
    assert joined.status_code == 303
    settings = await browser.get("/settings/members")
    assert settings.status_code == 200
    assert "Members (1)" in settings.text, "an admin of the new organization, alone in it"
    assert "boss@second.example.com" in settings.text
