"""Clients: create, rename, delete, and who may."""

from tests.fixtures.builders import Org


async def test_client_names_are_unique_in_an_organization(org: Org, other_org: Org) -> None:
    await org.client("Northwind")

    again = await org.api.post("/api/v1/clients", json={"name": "Northwind"})
    elsewhere = await other_org.api.post("/api/v1/clients", json={"name": "Northwind"})

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "client_exists"
    assert elsewhere.status_code == 201


async def test_a_client_needs_a_name_that_is_more_than_spaces(org: Org) -> None:
    blank = await org.api.post("/api/v1/clients", json={"name": "   "})

    assert blank.status_code == 422
    assert blank.json()["error"]["details"] == [{"field": "name", "problem": "must not be blank"}]
    assert (await org.api.get("/api/v1/clients")).json()["total"] == 0


async def test_clients_are_listed_by_name_and_searchable(org: Org) -> None:
    for name in ("Lumen Dental", "Blue Fjord Coffee", "Harbor Realty"):
        await org.client(name)

    everything = (await org.api.get("/api/v1/clients")).json()
    found = (await org.api.get("/api/v1/clients", params={"search": "fjord"})).json()

    assert [c["name"] for c in everything["data"]] == [
        "Blue Fjord Coffee",
        "Harbor Realty",
        "Lumen Dental",
    ]
    assert [c["name"] for c in found["data"]] == ["Blue Fjord Coffee"]


async def test_viewers_and_limited_staff_cannot_add_clients(org: Org) -> None:
    mine = await org.client("Mine")
    viewer = await org.member("viewer")
    limited = await org.member("staff", clients=[mine["id"]])

    by_viewer = await viewer.post("/api/v1/clients", json={"name": "X"})
    by_limited = await limited.post("/api/v1/clients", json={"name": "Y"})

    assert by_viewer.status_code == by_limited.status_code == 403


async def test_deleting_an_unused_client(org: Org) -> None:
    client = await org.client("Gone Soon")

    deleted = await org.api.delete(f"/api/v1/clients/{client['id']}")

    assert deleted.status_code == 204
    assert (await org.api.get(f"/api/v1/clients/{client['id']}")).status_code == 404
