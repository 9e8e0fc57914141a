"""The counts the database keeps of connections (models/connection_count.py) and of
authorizations (models/authorization_count.py) never drift from the rows they count: statuses
are changed through every path a member or a worker takes (a check, a reconnect, a switch, a
disconnect and a connect again, a client's deletion, a sync that fails, an outage, an
authorization connected and deleted), several at once in random order, and after each round the
counts are compared with a full count of the rows. On PostgreSQL the scheduler's folds run among
them.

The order comes from a seed, printed when the test fails; `TETHER_TEST_SEED` replays one."""

import asyncio
import os
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select

from tests.fixtures.builders import Org, connect_provider, consent
from tests.fixtures.running import Tether
from tether.authorizations import counts_repository as authorization_counts
from tether.authorizations import service as authorizations
from tether.authorizations.service import ProviderSummary
from tether.connections import counts_repository
from tether.db import Base
from tether.models import (
    Authorization,
    AuthorizationCount,
    AuthorizationCountChange,
    Connection,
    ConnectionCount,
    ConnectionCountChange,
)

ROUNDS = 9  # at least one per operation (OPERATIONS), so each runs once or more
AT_ONCE = 6  # operations a round runs together
USERS = {"alice": "sandbox", "bob": "sandbox", "carol": "meta_ads"}
# Authorizations connected and deleted again by `another_authorization`: a user of USERS on a
# provider they have no other authorization of, so that each sign-in adds a row.
EXTRA = {"alice": "snapchat_ads", "bob": "tiktok_ads", "carol": "pinterest_ads"}
Counts = dict[tuple[str, str], int]


@dataclass
class World:
    """One organization's authorizations (one per sandbox user), clients and connections, and
    what the operations did, for the failure message."""

    org: Org
    tether: Tether
    rng: random.Random
    authorizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    removed: dict[str, set[str]] = field(default_factory=dict)
    clients: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)  # user: an authorization of EXTRA's
    done: list[str] = field(default_factory=list)

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A member's request; any answer but a server error is fine: a switch to an account
        the client already uses is refused, a reconnect may race a check, and so on."""
        response = await self.org.api.request(method, f"/api/v1{path}", **kwargs)
        assert response.status_code < 500, f"{method} {path}: {response.text}"
        return response

    async def connections(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = (await self.call("GET", "/connections", params=params)).json()
            rows += page["data"]
            cursor = page["next_cursor"]
            if not cursor:
                return rows

    async def a_connection(self) -> dict[str, Any] | None:
        rows = await self.connections()
        return self.rng.choice(rows) if rows else None

    def a_user(self) -> str:
        return self.rng.choice(sorted(USERS))

    async def connect_client(self) -> None:
        """A new client, connected to two accounts of each user's authorization."""
        client = await self.call("POST", "/clients", json={"name": f"C {uuid.uuid4().hex[:6]}"})
        client_id = client.json()["id"]
        self.clients.append(client_id)
        for user in USERS:
            for account in self.rng.sample(self.accounts[user], 2):
                body = {"client_id": client_id, "account_id": account["id"]}
                await self.call("POST", "/connections", json=body)


async def check(world: World) -> None:
    """A user revokes their grants, or loses or regains an account, or nothing; then a check."""
    user = world.a_user()
    what = world.rng.choice(["revoke", "remove", "restore", "nothing"])
    # The sandbox's own ids of the accounts (Meta's dialect prefixes them with `act_`).
    reached = {a["external_id"].removeprefix("act_") for a in world.accounts[user]}
    if what == "revoke":
        await world.tether.sandbox("POST", f"/users/{user}/grants/revoke")
    elif what == "remove" and reached - world.removed[user]:
        account = world.rng.choice(sorted(reached - world.removed[user]))
        world.removed[user].add(account)
        await world.tether.sandbox("DELETE", f"/users/{user}/accounts/{account}")
    elif what == "restore" and world.removed[user]:
        account = world.rng.choice(sorted(world.removed[user]))
        world.removed[user].discard(account)
        await world.tether.sandbox("PUT", f"/users/{user}/accounts/{account}")
    await world.call("POST", f"/authorizations/{world.authorizations[user]['id']}/check")
    world.done.append(f"check {user} after {what}")


async def reconnect(world: World) -> None:
    """The user signs in again, with every account back: the grant is restored in place."""
    user = world.a_user()
    for account in sorted(world.removed[user]):
        world.removed[user].discard(account)
        await world.tether.sandbox("PUT", f"/users/{user}/accounts/{account}")
    authorization_id = world.authorizations[user]["id"]
    started = await world.call("POST", f"/authorizations/{authorization_id}/reconnect")
    callback = await consent(started.json()["authorize_url"], user)
    async with httpx.AsyncClient(timeout=30) as browser:
        finished = await browser.get(callback, headers={"Accept": "application/json"})
    assert finished.status_code < 500, finished.text
    world.done.append(f"reconnect {user}")


async def switch(world: World) -> None:
    """A connection moves to another account of its authorization."""
    row = await world.a_connection()
    if row is None:
        return
    user = next(u for u, a in world.authorizations.items() if a["id"] == row["authorization_id"])
    account = world.rng.choice(world.accounts[user])
    await world.call("PATCH", f"/connections/{row['id']}", json={"account_id": account["id"]})
    world.done.append(f"switch {row['id'][:8]}")


async def disconnect_or_connect(world: World) -> None:
    row = await world.a_connection()
    if row is None:
        return
    action = "connect" if row["status"] == "disconnected" else "disconnect"
    await world.call("POST", f"/connections/{row['id']}/{action}")
    world.done.append(f"{action} {row['id'][:8]}")


async def delete_client(world: World) -> None:
    """A client goes, with its connections; a new one comes. Tether deletes no connection
    itself (a client is deleted once it has none, an organization's go with it), so the rows
    are deleted in SQL, as an operator would: the triggers count a delete whoever makes it."""
    if world.clients:
        client_id = world.clients.pop(world.rng.randrange(len(world.clients)))
        async with world.tether.sessions.begin() as session:
            await session.execute(
                delete(Connection).where(Connection.client_id == uuid.UUID(client_id))
            )
        deleted = await world.call("DELETE", f"/clients/{client_id}")
        assert deleted.status_code == 204, deleted.text
    await world.connect_client()
    world.done.append("delete a client, connect another")


async def failed_sync(world: World) -> None:
    """A sync meets a revoked grant: the lapse is found by the sync, not by a check."""
    row = await world.a_connection()
    if row is None or row["status"] != "active":
        return
    user = next(u for u, a in world.authorizations.items() if a["id"] == row["authorization_id"])
    await world.tether.sandbox("POST", f"/users/{user}/grants/revoke")
    await world.call("POST", f"/connections/{row['id']}/sync")
    await world.tether.run_queued_syncs()
    world.done.append(f"sync of {user}'s {row['id'][:8]} after a revoke")


async def another_authorization(world: World) -> None:
    """A user connects another provider, or the authorization they connected so goes (deleted:
    it serves no client)."""
    user = world.a_user()
    if world.extra.get(user) == "connecting":
        return
    if user in world.extra:
        authorization_id = world.extra.pop(user)
        deleted = await world.call("DELETE", f"/authorizations/{authorization_id}")
        assert deleted.status_code == 204, deleted.text
        world.done.append(f"authorization of {user}'s {EXTRA[user]} deleted")
    else:
        world.extra[user] = "connecting"  # no other round connects it meanwhile
        # As `reconnect`: a revoke of the user's grants in the same round may refuse the sign-in.
        body = {"provider": EXTRA[user]}
        started = await world.call("POST", "/authorizations/oauth/start", json=body)
        callback = await consent(started.json()["authorize_url"], user)
        async with httpx.AsyncClient(timeout=30) as browser:
            finished = await browser.get(callback, headers={"Accept": "application/json"})
        assert finished.status_code < 500, finished.text
        if finished.status_code != 200:
            del world.extra[user]
            world.done.append(f"authorization of {user}'s {EXTRA[user]} refused")
            return
        world.extra[user] = finished.json()["authorization_id"]
        world.done.append(f"authorization of {user}'s {EXTRA[user]} connected")


async def fold(world: World) -> None:
    """The scheduler's folds, in a transaction of their own (PostgreSQL; nothing on SQLite)."""
    async with world.tether.sessions.begin() as session:
        await counts_repository.fold(session)
        await authorization_counts.fold(session)
    world.done.append("fold")


OPERATIONS: list[Callable[[World], Awaitable[None]]] = [
    check,
    check,
    reconnect,
    switch,
    disconnect_or_connect,
    delete_client,
    failed_sync,
    another_authorization,
    fold,
]


async def outage(world: World) -> None:
    """The platform is down for one check: its connections are failing (alone in its round:
    every call to the platform fails meanwhile)."""
    await world.tether.sandbox("PUT", "/faults", json={"down": True})
    try:
        user = world.a_user()
        await world.call("POST", f"/authorizations/{world.authorizations[user]['id']}/check")
    finally:
        await world.tether.sandbox("DELETE", "/faults")
    world.done.append("outage")


# What is counted: the rows, the kept counts, the changes not yet folded in.
KEPT: dict[str, tuple[type[Any], type[Base], type[Base]]] = {
    "connections": (Connection, ConnectionCount, ConnectionCountChange),
    "authorizations": (Authorization, AuthorizationCount, AuthorizationCountChange),
}


async def full_count(tether: Tether, organization_id: uuid.UUID, what: str) -> Counts:
    rows = KEPT[what][0]
    stmt = (
        select(rows.provider, rows.status, func.count())
        .where(rows.organization_id == organization_id)
        .group_by(rows.provider, rows.status)
    )
    async with tether.sessions() as session:
        return {(p, s): n for p, s, n in await session.execute(stmt)}


async def kept_and_pending(
    tether: Tether, organization_id: uuid.UUID, what: str
) -> tuple[Counts, Counts]:
    found: tuple[Counts, Counts] = ({}, {})
    async with tether.sessions() as session:
        for table, into in zip(KEPT[what][1:], found, strict=True):
            stmt = (
                select(table.provider, table.status, func.sum(table.n))
                .where(table.organization_id == organization_id)
                .group_by(table.provider, table.status)
            )
            for provider, status, n in await session.execute(stmt):
                into[(provider, status)] = int(n)
    return found


def together(kept: Counts, pending: Counts) -> Counts:
    both = {key: kept.get(key, 0) + pending.get(key, 0) for key in kept.keys() | pending.keys()}
    return {key: n for key, n in both.items() if n}


async def compare(world: World, when: str) -> None:
    for what in KEPT:
        counted = await full_count(world.tether, world.org.id, what)
        kept, pending = await kept_and_pending(world.tether, world.org.id, what)
        assert together(kept, pending) == counted, f"{when}: the {what}' counts drifted"
    await compare_answers(world, when)


async def compare_answers(world: World, when: str) -> None:
    """What the API answers of the counts: the connections' by status, and the authorizations'
    per provider on the Data sources screen."""
    rows = await full_count(world.tether, world.org.id, "connections")
    answered = (await world.call("GET", "/connections/counts")).json()
    by_status = {status: 0 for status in ("active", "failing", "needs_reconnect", "disconnected")}
    for (_, status), n in rows.items():
        by_status[status] += n
    assert answered == {**by_status, "total": sum(rows.values())}, when
    meta = (await world.call("GET", "/connections/counts", params={"provider": "meta_ads"})).json()
    assert meta["total"] == sum(n for (p, _), n in rows.items() if p == "meta_ads"), when

    rows = await full_count(world.tether, world.org.id, "authorizations")
    expected = {
        provider: ProviderSummary(
            sum(n for (p, _), n in rows.items() if p == provider),
            rows.get((provider, "needs_reconnect"), 0),
            rows.get((provider, "failing"), 0),
        )
        for provider, _ in rows
    }
    async with world.tether.sessions() as session:
        summaries = await authorizations.provider_summaries(session, actor=world.org.actor())
    assert summaries == expected, when


@pytest.fixture
def seed() -> int:
    return int(os.environ.get("TETHER_TEST_SEED") or random.randrange(2**32))


async def test_the_counts_follow_every_status_change_made_at_once(
    org: Org, tether: Tether, seed: int
) -> None:
    world = World(org, tether, random.Random(seed))
    try:
        for user, provider in USERS.items():
            world.authorizations[user] = await connect_provider(org.api, provider, username=user)
            listed = await world.call(
                "GET", f"/authorizations/{world.authorizations[user]['id']}/accounts"
            )
            world.accounts[user] = listed.json()["data"]
            world.removed[user] = set()
        for _ in range(4):
            await world.connect_client()
        await compare(world, "after connecting")

        for n in range(ROUNDS):
            # Each round runs one operation in turn and the rest at random, so that every
            # operation runs at least once whatever the seed.
            chosen = [OPERATIONS[n % len(OPERATIONS)]]
            chosen += [world.rng.choice(OPERATIONS) for _ in range(AT_ONCE - 1)]
            await asyncio.gather(*(operation(world) for operation in chosen))
            await compare(world, f"after round {n}")
            if n % 3 == 2:
                await outage(world)
                await compare(world, f"after the outage of round {n}")

        await fold(world)
        folded = {what: await kept_and_pending(tether, org.id, what) for what in KEPT}
        counted = {what: await full_count(tether, org.id, what) for what in KEPT}
        statuses = {status for _, status in counted["connections"]}
    except BaseException:
        print(f"\nseed {seed} (TETHER_TEST_SEED={seed} replays it); done: {world.done}")  # noqa: T201
        raise

    # Folded, the kept counts alone are the rows' (PostgreSQL; SQLite keeps them directly).
    for what, (kept, pending) in folded.items():
        assert pending == {}, what
        assert {key: n for key, n in kept.items() if n} == counted[what], what
    # The rounds really moved statuses around: more than one status is left, by more than one
    # path (a check, a reconnect, a disconnect, a sync, an outage, an authorization connected or
    # deleted all ran).
    assert len(statuses) >= 2, world.done
    kinds = {step.split()[0] for step in world.done}
    assert {"check", "reconnect", "outage", "authorization"} <= kinds, world.done
