"""Members, roles, client access and API tokens (joining is in test_invitations)."""

from tests.fixtures.builders import Org


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
