"""API tokens that expire, say when they were last used, and that admins list and revoke; and
passwords whose change signs the member out of the web everywhere, while their API tokens,
separate credentials, keep working."""

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine
from argon2 import PasswordHasher

from tests.fixtures.builders import Org
from tests.fixtures.running import Tether
from tether.db import utcnow
from tether.members import passwords, sessions

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about what a password change ends, not the hash's cost."""
    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(sessions, "_DUMMY_HASH", passwords.hash_password("unused"))


@pytest.fixture
async def browsers() -> AsyncIterator[AsyncExitStack]:
    """Where the browsers a test opens are closed."""
    async with AsyncExitStack() as stack:
        yield stack


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def add_member(org: Org, role: str = "staff") -> tuple[dict[str, Any], httpx.AsyncClient]:
    """A member who signs in to the web with PASSWORD, and an API client holding their token."""
    added = await org.add_member(role, password=PASSWORD)
    member = dict((await org.api.get(f"/api/v1/members/{added.id}")).json())
    return member, await org.client_for(added.id)


async def new_token(api: httpx.AsyncClient, name: str, **extra: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/tokens", json={"name": name, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def tokens_of(api: httpx.AsyncClient, member_id: object) -> dict[str, dict[str, Any]]:
    """A member's tokens as an admin sees them, by name."""
    response = await api.get(f"/api/v1/members/{member_id}/tokens")
    assert response.status_code == 200, response.text
    return {t["name"]: t for t in response.json()["data"]}


async def send_login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """The sign-in form, fetched and sent as a browser does (with its CSRF cookie)."""
    await http.get("/login")
    csrf = http.cookies["tether_login_csrf"]
    body = {"email": email, "password": password, "csrf_token": csrf}
    return await http.post("/login", data=body, headers={"Accept": "text/html"})


async def signed_in_browser(
    tether: Tether, stack: AsyncExitStack, email: str, password: str = PASSWORD
) -> httpx.AsyncClient:
    """A browser signed in to the web app as this member."""
    http = await stack.enter_async_context(httpx.AsyncClient(base_url=tether.base_url, timeout=30))
    answer = await send_login(http, email, password)
    assert answer.status_code == 303, answer.text
    assert "tether_session" in http.cookies
    return http


async def still_signed_in(http: httpx.AsyncClient) -> bool:
    """Whether a page opens with the browser's session, rather than sending it to sign in."""
    page = await http.get("/connections", headers={"Accept": "text/html"})
    if page.status_code == 200:
        return True
    assert page.status_code == 303, page.text
    assert page.headers["location"].startswith("/login")
    return False


async def can_sign_in(tether: Tether, email: str, password: str) -> bool:
    async with httpx.AsyncClient(base_url=tether.base_url, timeout=30) as http:
        answer = await send_login(http, email, password)
    assert answer.status_code in (303, 401), answer.text
    return answer.status_code == 303


# Tokens


async def test_a_token_with_an_expiry_works_until_then_and_is_refused_after_saying_when(
    org: Org,
) -> None:
    created = await new_token(org.api, "nightly export", expires_in_days=30)
    token, expires_at = created["token"], when(created["expires_at"])

    assert abs(expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)
    with time_machine.travel(expires_at - timedelta(minutes=1), tick=False):
        before = await org.api.get("/api/v1/clients", headers=bearer(token))
    with time_machine.travel(expires_at + timedelta(minutes=1), tick=False):
        after = await org.api.get("/api/v1/clients", headers=bearer(token))
        others = await org.api.get("/api/v1/clients")

    assert before.status_code == 200, before.text
    assert after.status_code == 401
    error = after.json()["error"]
    assert error["code"] == "token_expired"
    assert f"expired on {expires_at:%Y-%m-%d %H:%M} UTC" in error["message"]
    assert created["prefix"] in error["message"]
    assert token not in error["message"]
    assert others.status_code == 200  # a token without an expiry keeps working


async def test_a_token_without_an_expiry_says_so(org: Org) -> None:
    created = await new_token(org.api, "dashboard")

    assert created["expires_at"] is None
    listed = await tokens_of(org.api, org.admin_id)
    assert listed["dashboard"]["expires_at"] is None


@pytest.mark.parametrize(
    ("days", "problem"),
    [(0, "greater than or equal to 1"), (366, "less than or equal to 365")],
)
async def test_an_expiry_outside_one_to_365_days_is_refused_naming_the_field(
    org: Org, days: int, problem: str
) -> None:
    response = await org.api.post(
        "/api/v1/tokens", json={"name": "too long or too short", "expires_in_days": days}
    )

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert f"expires_in_days: Input should be {problem}" in error["message"]
    assert error["details"] == [
        {"field": "expires_in_days", "problem": f"Input should be {problem}"}
    ]
    assert "too long or too short" not in (await org.api.get("/api/v1/tokens")).text


async def test_an_expiry_of_one_or_365_days_is_taken(org: Org) -> None:
    one = await new_token(org.api, "a day", expires_in_days=1)
    year = await new_token(org.api, "a year", expires_in_days=365)

    assert when(year["expires_at"]) - when(one["expires_at"]) > timedelta(days=363)


async def test_last_used_is_empty_until_the_token_is_used_then_kept_to_the_minute(
    org: Org,
) -> None:
    """As an admin sees it in the member's tokens: set by a use, moved at most once a minute."""
    member, script = await add_member(org)
    start = utcnow().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        unused = (await tokens_of(org.api, member["id"]))["test"]
        assert (await script.get("/api/v1/clients")).status_code == 200
        first = (await tokens_of(org.api, member["id"]))["test"]
        clock.shift(timedelta(seconds=30))
        assert (await script.get("/api/v1/clients")).status_code == 200
        within_the_minute = (await tokens_of(org.api, member["id"]))["test"]
        clock.shift(timedelta(minutes=2))
        assert (await script.get("/api/v1/clients")).status_code == 200
        later = (await tokens_of(org.api, member["id"]))["test"]

    assert unused["last_used_at"] is None
    assert when(first["last_used_at"]) == start
    assert when(within_the_minute["last_used_at"]) == start
    assert when(later["last_used_at"]) == start + timedelta(minutes=2, seconds=30)


async def test_an_admin_lists_a_members_tokens_without_the_secret_and_revokes_one(
    org: Org,
) -> None:
    member, own_client = await add_member(org)
    deploy = await new_token(own_client, "deploy script", expires_in_days=90)

    listed = await org.api.get(f"/api/v1/members/{member['id']}/tokens")
    assert listed.status_code == 200
    assert listed.json()["total"] == 2
    assert deploy["token"] not in listed.text
    shown = {t["name"]: t for t in listed.json()["data"]}
    assert shown["deploy script"]["prefix"] == deploy["prefix"] == deploy["token"][:10]
    assert shown["deploy script"]["expires_at"] == deploy["expires_at"]
    assert set(shown["deploy script"]) == {
        "id", "name", "prefix", "created_at", "last_used_at", "expires_at",
    }  # fmt: skip

    revoked = await org.api.delete(f"/api/v1/members/{member['id']}/tokens/{deploy['id']}")
    refused = await org.api.get("/api/v1/clients", headers=bearer(deploy["token"]))

    assert revoked.status_code == 204
    assert refused.status_code == 401
    assert (await own_client.get("/api/v1/members/me")).status_code == 200  # the other one works
    assert list(await tokens_of(org.api, member["id"])) == ["test"]
    audit = await org.api.get("/api/v1/audit", params={"action": "api_token.revoked"})
    [event] = audit.json()["data"]
    assert event["actor"] == f"member:{org.admin_id}"
    assert (event["subject_type"], event["subject_id"]) == ("member", member["id"])
    assert event["details"] == {"token_name": "deploy script", "token_prefix": deploy["prefix"]}
    assert deploy["token"] not in audit.text


async def test_a_member_revoking_their_own_token_is_audited_as_theirs(org: Org) -> None:
    member, own_client = await add_member(org)
    spare = await new_token(own_client, "spare")

    revoked = await own_client.delete(f"/api/v1/tokens/{spare['id']}")

    assert revoked.status_code == 204
    audit = await org.api.get("/api/v1/audit", params={"action": "api_token.revoked"})
    [event] = audit.json()["data"]
    assert event["actor"] == f"member:{member['id']}"
    assert event["details"]["token_name"] == "spare"


@pytest.mark.parametrize("role", ["staff", "viewer"])
async def test_staff_and_viewers_cannot_list_or_revoke_another_members_tokens(
    org: Org, role: str
) -> None:
    _, someone = await add_member(org, role)
    admins = (await org.api.get("/api/v1/tokens")).json()["data"]

    listed = await someone.get(f"/api/v1/members/{org.admin_id}/tokens")
    revoked = await someone.delete(f"/api/v1/members/{org.admin_id}/tokens/{admins[0]['id']}")

    assert listed.status_code == revoked.status_code == 403
    assert listed.json()["error"]["message"] == "Only admins can see other members' API tokens."
    assert revoked.json()["error"]["message"] == (
        "Only admins can revoke other members' API tokens."
    )
    assert (await org.api.get("/api/v1/members/me")).status_code == 200
    empty = await org.api.get("/api/v1/audit", params={"action": "api_token.revoked"})
    assert empty.json()["data"] == []


async def test_a_member_of_another_organization_is_not_found(org: Org, other_org: Org) -> None:
    theirs = (await other_org.api.get("/api/v1/tokens")).json()["data"][0]
    member, _ = await add_member(org)

    listed = await org.api.get(f"/api/v1/members/{other_org.admin_id}/tokens")
    revoked = await org.api.delete(f"/api/v1/members/{other_org.admin_id}/tokens/{theirs['id']}")
    # Their token's id under one of this organization's members is no better.
    through_own = await org.api.delete(f"/api/v1/members/{member['id']}/tokens/{theirs['id']}")

    assert listed.status_code == revoked.status_code == through_own.status_code == 404
    assert listed.json()["error"]["message"] == revoked.json()["error"]["message"]
    assert listed.json()["error"]["message"] == "No such member."
    assert through_own.json()["error"]["message"] == "No such API token."
    assert (await other_org.api.get("/api/v1/members/me")).status_code == 200


# Passwords and web sessions


async def test_a_password_reset_by_an_admin_signs_the_member_out_of_the_web(
    tether: Tether, org: Org, browsers: AsyncExitStack
) -> None:
    member, own_client = await add_member(org)
    other, _ = await add_member(org, "viewer")
    laptop = await signed_in_browser(tether, browsers, member["email"])
    phone = await signed_in_browser(tether, browsers, member["email"])
    someone_else = await signed_in_browser(tether, browsers, other["email"])
    assert await still_signed_in(laptop)

    reset = await org.api.patch(f"/api/v1/members/{member['id']}", json={"password": NEW_PASSWORD})

    assert reset.status_code == 200, reset.text
    assert not await still_signed_in(laptop)
    assert not await still_signed_in(phone)
    assert await still_signed_in(someone_else)
    background = await phone.get("/notifications/bell", headers={"HX-Request": "true"})
    assert background.status_code == 401
    assert (await own_client.get("/api/v1/members/me")).status_code == 200
    assert not await can_sign_in(tether, member["email"], PASSWORD)
    assert await can_sign_in(tether, member["email"], NEW_PASSWORD)


async def test_changing_ones_own_password_ends_web_sessions_but_keeps_api_tokens(
    tether: Tether, org: Org, browsers: AsyncExitStack
) -> None:
    member, own_client = await add_member(org)
    script = await new_token(own_client, "reporting script")
    laptop = await signed_in_browser(tether, browsers, member["email"])
    phone = await signed_in_browser(tether, browsers, member["email"])

    changed = await own_client.post(
        "/api/v1/members/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )

    assert changed.status_code == 204, changed.text
    assert not await still_signed_in(laptop)
    assert not await still_signed_in(phone)
    assert (await own_client.get("/api/v1/members/me")).status_code == 200
    assert (await own_client.get("/api/v1/clients", headers=bearer(script["token"]))).is_success
    assert not await can_sign_in(tether, member["email"], PASSWORD)
    assert await can_sign_in(tether, member["email"], NEW_PASSWORD)


async def test_a_wrong_current_password_is_refused_and_changes_nothing(
    tether: Tether, org: Org, browsers: AsyncExitStack
) -> None:
    member, own_client = await add_member(org)
    laptop = await signed_in_browser(tether, browsers, member["email"])

    refused = await own_client.post(
        "/api/v1/members/me/password",
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
    )

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "wrong_password"
    assert "not changed" in refused.json()["error"]["message"]
    assert await still_signed_in(laptop)
    assert not await can_sign_in(tether, member["email"], NEW_PASSWORD)
    assert await can_sign_in(tether, member["email"], PASSWORD)


async def test_a_new_password_that_is_too_short_is_refused_naming_the_field(org: Org) -> None:
    _, own_client = await add_member(org)

    refused = await own_client.post(
        "/api/v1/members/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
    )

    assert refused.status_code == 422
    assert "new_password" in refused.json()["error"]["message"]


async def test_an_admin_changing_their_own_password_in_the_web_stays_signed_in_only_there(
    tether: Tether, org: Org, browsers: AsyncExitStack
) -> None:
    admin = await org.api.patch(f"/api/v1/members/{org.admin_id}", json={"password": PASSWORD})
    email = admin.json()["email"]
    here = await signed_in_browser(tether, browsers, email)
    elsewhere = await signed_in_browser(tether, browsers, email)
    page = await here.get("/settings/members", headers={"Accept": "text/html"})
    found = re.search(r'data-csrf="([^"]+)"', page.text)
    assert found is not None, page.text

    form = {"role": "admin", "access": "all", "password": NEW_PASSWORD, "csrf_token": found[1]}
    saved = await here.post(
        f"/settings/members/{org.admin_id}", data=form, headers={"HX-Request": "true"}
    )

    assert saved.status_code == 200, saved.text
    assert await still_signed_in(here)
    assert not await still_signed_in(elsewhere)
    assert (await org.api.get("/api/v1/members/me")).status_code == 200
