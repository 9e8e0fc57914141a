"""Connecting clients to accounts, and the connections list: filters, sorting, pages, counts."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from tests.conftest import Tether
from tests.fixtures.builders import Org, connect_sandbox
from tether.models import Connection


async def _accounts(api: httpx.AsyncClient, authorization_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/api/v1/authorizations/{authorization_id}/accounts")
    return list(response.json()["data"])


async def _connect(api: httpx.AsyncClient, client_id: str, account_id: str) -> httpx.Response:
    return await api.post(
        "/api/v1/connections", json={"client_id": client_id, "account_id": account_id}
    )


async def test_connecting_a_client_to_an_account(org: Org) -> None:
    authorization = await connect_sandbox(org.api)
    account = (await _accounts(org.api, authorization["id"]))[0]
    client = await org.client("Northwind Outfitters")

    response = await _connect(org.api, client["id"], account["id"])

    assert response.status_code == 201
    connection = response.json()
    assert connection["client_name"] == "Northwind Outfitters"
    assert connection["account_name"] == account["name"]
    assert connection["account_external_id"] == account["external_id"]
    assert connection["authorization_id"] == authorization["id"]
    assert connection["status"] == "active"
    accounts = await _accounts(org.api, authorization["id"])
    assert next(a for a in accounts if a["id"] == account["id"])["client_count"] == 1


async def test_new_connections_default_to_the_main_authorization(org: Org) -> None:
    older = await connect_sandbox(org.api, username="alice")
    main = await connect_sandbox(org.api, username="bob")
    shared = {a["external_id"] for a in await _accounts(org.api, older["id"])} & {
        a["external_id"] for a in await _accounts(org.api, main["id"])
    }
    client = await org.client()

    response = await org.api.post(
        "/api/v1/connections",
        json={"client_id": client["id"], "provider": "sandbox", "external_id": sorted(shared)[0]},
    )

    assert response.status_code == 201, response.text
    assert response.json()["authorization_id"] == main["id"]


async def test_a_duplicate_connection_is_refused_and_changes_nothing(org: Org) -> None:
    authorization = await connect_sandbox(org.api)
    account = (await _accounts(org.api, authorization["id"]))[0]
    client = await org.client()
    await _connect(org.api, client["id"], account["id"])

    again = await _connect(org.api, client["id"], account["id"])

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate_connection"
    assert "already connected" in again.json()["error"]["message"]
    assert (await org.api.get("/api/v1/connections/counts")).json()["total"] == 1


async def test_connecting_needs_a_known_account(org: Org) -> None:
    client = await org.client()
    missing = await org.api.post(
        "/api/v1/connections",
        json={"client_id": client["id"], "provider": "sandbox", "external_id": "1"},
    )
    neither = await org.api.post("/api/v1/connections", json={"client_id": client["id"]})

    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "not_connected"
    assert neither.status_code == 422
    assert neither.json()["error"]["code"] == "account_required"


async def _seed(org: Org, clients: int) -> list[dict[str, Any]]:
    """Connect every sandbox account of alice and bob to several clients."""
    accounts = []
    for user in ("alice", "bob"):
        authorization = await connect_sandbox(org.api, username=user)
        accounts += await _accounts(org.api, authorization["id"])
    for index in range(clients):
        client = await org.client(f"Client {index:02d}")
        for account in accounts[index % 3 :: 3]:
            assert (await _connect(org.api, client["id"], account["id"])).status_code == 201
    return accounts


async def _walk(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = await api.get(
            "/api/v1/connections", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        rows += response.json()["data"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return rows


async def test_pages_walk_every_connection_once_in_sort_order(org: Org) -> None:
    await _seed(org, clients=6)
    total = (await org.api.get("/api/v1/connections/counts")).json()["total"]

    for sort in ("account_name", "-account_name", "client_name", "-created_at", "provider"):
        rows = await _walk(org.api, sort=sort, limit=7)
        field = sort.lstrip("-")
        keys = [(row[field], row["id"]) for row in rows]
        assert len(rows) == total
        assert len({row["id"] for row in rows}) == total
        assert keys == sorted(keys, reverse=sort.startswith("-")), sort


async def test_sorting_by_last_updated_keeps_never_updated_rows_last(
    org: Org, tether: Tether
) -> None:
    await _seed(org, clients=3)
    async with tether.sessions() as session:
        ids = (await session.scalars(select(Connection.id).order_by(Connection.id))).all()
        for offset, connection_id in enumerate(ids[::2]):
            when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=offset % 5)
            await session.execute(
                update(Connection).where(Connection.id == connection_id).values(last_synced_at=when)
            )
        await session.commit()

    for sort in ("last_synced_at", "-last_synced_at"):
        rows = await _walk(org.api, sort=sort, limit=4)
        updated = [(row["last_synced_at"], row["id"]) for row in rows if row["last_synced_at"]]
        assert len(rows) == len(ids)
        assert rows[: len(updated)] == [r for r in rows if r["last_synced_at"]]
        assert updated == sorted(updated, reverse=sort.startswith("-"))


async def test_sorted_by_status_and_filtered_by_several_each_comes_once_in_order(
    org: Org, tether: Tether
) -> None:
    await _seed(org, clients=3)
    async with tether.sessions.begin() as session:
        ids = (await session.scalars(select(Connection.id).order_by(Connection.id))).all()
        for n, connection_id in enumerate(ids):
            status = ("failing", "needs_reconnect", "active")[n % 3]
            await session.execute(
                update(Connection).where(Connection.id == connection_id).values(status=status)
            )
    lapsed_or_failing = {i for n, i in enumerate(ids) if n % 3 != 2}

    for sort in ("status", "-status"):
        params = {"sort": sort, "limit": 2, "status": ["needs_reconnect", "failing"]}
        rows = await _walk(org.api, **params)
        keys = [(row["status"], row["id"]) for row in rows]
        assert {row["id"] for row in rows} == {str(i) for i in lapsed_or_failing}
        assert len(rows) == len(lapsed_or_failing)
        assert keys == sorted(keys, reverse=sort.startswith("-")), sort


async def test_filters_by_status_provider_and_client(org: Org) -> None:
    await _seed(org, clients=3)
    client = (await org.api.get("/api/v1/clients", params={"search": "Client 01"})).json()["data"][
        0
    ]

    by_client = await _walk(org.api, client_id=client["id"])
    active = await _walk(org.api, status="active", provider="sandbox")
    failing = await _walk(org.api, status="failing")
    other_provider = await _walk(org.api, provider="google_ads")

    assert by_client
    assert {row["client_id"] for row in by_client} == {client["id"]}
    assert len(active) == (await org.api.get("/api/v1/connections/counts")).json()["active"]
    assert failing == []
    assert other_provider == []


async def test_counts_cover_every_status(org: Org) -> None:
    await _seed(org, clients=2)

    counts = (await org.api.get("/api/v1/connections/counts")).json()

    assert counts["needs_reconnect"] == counts["failing"] == counts["disconnected"] == 0
    assert counts["total"] == counts["active"] > 0


async def test_bad_list_parameters_get_clear_errors(org: Org) -> None:
    sort = await org.api.get("/api/v1/connections", params={"sort": "password"})
    limit = await org.api.get("/api/v1/connections", params={"limit": 0})
    cursor = await org.api.get("/api/v1/connections", params={"cursor": "not-a-cursor"})
    status = await org.api.get("/api/v1/connections", params={"status": "sleepy"})

    assert sort.status_code == 422
    assert "sort" in sort.json()["error"]["message"]
    assert limit.status_code == 422
    assert "limit" in limit.json()["error"]["message"]
    assert cursor.status_code == 400
    assert cursor.json()["error"]["code"] == "invalid_cursor"
    assert status.status_code == 422
    assert "status" in status.json()["error"]["message"]


async def test_a_cursor_of_another_sort_is_refused(org: Org) -> None:
    await _seed(org, clients=2)
    page = (
        await org.api.get("/api/v1/connections", params={"sort": "client_name", "limit": 2})
    ).json()

    other = await org.api.get(
        "/api/v1/connections", params={"sort": "account_name", "cursor": page["next_cursor"]}
    )

    assert other.status_code == 400
    assert "another sort order" in other.json()["error"]["message"]


async def test_renaming_a_client_renames_it_in_its_connections(org: Org) -> None:
    await _seed(org, clients=1)
    client = (await org.api.get("/api/v1/clients")).json()["data"][0]

    await org.api.patch(f"/api/v1/clients/{client['id']}", json={"name": "Renamed Co"})

    rows = await _walk(org.api, client_id=client["id"])
    assert rows
    assert {row["client_name"] for row in rows} == {"Renamed Co"}
