"""Members, roles, client access and API tokens."""

from tests.fixtures.builders import Org


async def test_admins_add_members_with_roles_and_client_access(org: Org) -> None:
    client = await org.client("Northwind")

    staff = await org.api.post(
        "/api/v1/members",
        json={"email": "Sam@Agency.example.com", "role": "staff", "client_access": [client["id"]]},
    )
    viewer = await org.api.post(
        "/api/v1/members", json={"email": "vi@agency.example.com", "role": "viewer"}
    )

    assert staff.status_code == 201
    assert staff.json()["email"] == "sam@agency.example.com"
    assert staff.json()["client_access"] == [client["id"]]
    assert viewer.json()["client_access"] == "all"
    listed = (await org.api.get("/api/v1/members")).json()
    assert listed["total"] == 3


async def test_an_email_can_belong_to_only_one_member(org: Org, other_org: Org) -> None:
    body = {"email": "pat@agency.example.com", "role": "viewer"}
    await org.api.post("/api/v1/members", json=body)

    taken = await other_org.api.post("/api/v1/members", json=body)
    fresh = await other_org.api.post(
        "/api/v1/members", json={**body, "email": "new@agency.example.com"}
    )
    twice = await org.api.post("/api/v1/members", json=body)

    # Another organization's member is not confirmed: the answer is a new member's.
    assert taken.status_code == fresh.status_code == 201
    assert taken.json().keys() == fresh.json().keys()
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "member_exists"


async def test_bad_member_input_is_refused(org: Org) -> None:
    email = await org.api.post("/api/v1/members", json={"email": "nope", "role": "staff"})
    role = await org.api.post(
        "/api/v1/members", json={"email": "a@agency.example.com", "role": "owner"}
    )
    client = await org.api.post(
        "/api/v1/members",
        json={
            "email": "b@agency.example.com",
            "role": "staff",
            "client_access": ["00000000-0000-0000-0000-000000000000"],
        },
    )

    assert email.status_code == 422
    assert "email" in email.json()["error"]["message"]
    assert role.status_code == 422
    assert "role" in role.json()["error"]["message"]
    assert client.status_code == 422
    assert client.json()["error"]["code"] == "unknown_client"
    assert (await org.api.get("/api/v1/members")).json()["total"] == 1


async def test_only_admins_manage_members(org: Org) -> None:
    staff = await org.member("staff")

    response = await staff.post(
        "/api/v1/members", json={"email": "x@agency.example.com", "role": "admin"}
    )

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Only admins can add members."


async def test_changing_client_access_takes_effect_at_once(org: Org) -> None:
    one, two = await org.client("One"), await org.client("Two")
    staff = await org.member("staff", clients=[one["id"]])
    me = (await staff.get("/api/v1/members/me")).json()

    await org.api.patch(f"/api/v1/members/{me['id']}", json={"client_access": [two["id"]]})

    names = [c["name"] for c in (await staff.get("/api/v1/clients")).json()["data"]]
    assert names == ["Two"]


async def test_the_last_admin_cannot_be_removed_or_demoted(org: Org) -> None:
    removed = await org.api.delete(f"/api/v1/members/{org.admin_id}")
    demoted = await org.api.patch(f"/api/v1/members/{org.admin_id}", json={"role": "viewer"})

    assert removed.status_code == demoted.status_code == 409
    assert removed.json()["error"]["code"] == "last_admin"


async def test_tokens_are_shown_once_and_can_be_revoked(org: Org) -> None:
    created = await org.api.post("/api/v1/tokens", json={"name": "reporting script"})
    token = created.json()["token"]
    listed = await org.api.get("/api/v1/tokens")

    assert created.status_code == 201
    assert token.startswith("tth_")
    assert token not in listed.text
    assert "reporting script" in listed.text

    await org.api.delete(f"/api/v1/tokens/{created.json()['id']}")
    refused = await org.api.get("/api/v1/clients", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


async def test_admins_create_new_organizations_with_their_own_admin(org: Org) -> None:
    response = await org.api.post(
        "/api/v1/organizations",
        json={"name": "Second Agency", "admin_email": "boss@second.example.com"},
    )
    duplicate = await org.api.post(
        "/api/v1/organizations",
        json={"name": "Second Agency", "admin_email": "other@second.example.com"},
    )

    assert response.status_code == 201
    token = response.json()["token"]
    mine = await org.api.get("/api/v1/organization", headers={"Authorization": f"Bearer {token}"})
    assert mine.json()["name"] == "Second Agency"
    assert duplicate.status_code == 409
