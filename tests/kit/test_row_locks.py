"""Writers lock in one order and bulk hand-outs pass over held rows (kit/locks_repository.py):
a reconnect holding an authorization neither stalls the scheduler nor loses a check's write.

PostgreSQL only: SQLite holds the whole database for any write, so nothing there can pass over
one row."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.builders import Org, connect_provider
from tests.fixtures.running import Tether
from tether.db import utcnow
from tether.health.checks import Engine, check
from tether.health.schedule import CHECKS
from tether.kit.locks_repository import locked
from tether.models import Authorization, Connection
from tether.sync.schedule import SYNCS
from tether.worker.queue import DueWork

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

# Far longer than a hand-out takes, far shorter than the test's time-out: a hand-out that
# waited for the held row would still be waiting.
PATIENCE = 10.0


@asynccontextmanager
async def held(tether: Tether, authorization_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
    """A transaction holding the authorization, as a reconnect does while it works."""
    async with tether.sessions.begin() as session:
        assert await locked(session, Authorization, authorization_id) is not None
        yield session


async def all_due(tether: Tether, organization_id: uuid.UUID) -> None:
    now = utcnow()
    async with tether.sessions.begin() as session:
        for model, column in ((Authorization, "next_check_at"), (Connection, "next_sync_at")):
            await session.execute(
                update(model).where(model.organization_id == organization_id).values({column: now})
            )


async def handed_out(tether: Tether, work: DueWork) -> set[str]:
    async def hand_out() -> set[str]:
        async with tether.sessions.begin() as session:
            jobs = await work.take_due(session, utcnow(), tether.settings)
        return {i for job in jobs for i in cast(list[str], job.args[0])}

    return await asyncio.wait_for(hand_out(), PATIENCE)


async def test_the_scheduler_passes_over_what_a_reconnect_holds_and_hands_it_out_next_pass(
    org: Org, tether: Tether
) -> None:
    alice = await connect_provider(org.api, "sandbox", username="alice")
    bob = await connect_provider(org.api, "sandbox", username="bob")
    client = (await org.api.post("/api/v1/clients", json={"name": "Acme"})).json()
    for authorization in (alice, bob):
        accounts = await org.api.get(f"/api/v1/authorizations/{authorization['id']}/accounts")
        body = {"client_id": client["id"], "account_id": accounts.json()["data"][0]["id"]}
        assert (await org.api.post("/api/v1/connections", json=body)).status_code == 201
    await all_due(tether, org.id)
    async with tether.sessions() as session:
        of_alice = set(
            await session.scalars(
                select(Connection.id).where(Connection.authorization_id == uuid.UUID(alice["id"]))
            )
        )
    assert of_alice

    async with held(tether, uuid.UUID(alice["id"])) as reconnecting:
        # The reconnect also holds the connections it restores.
        await reconnecting.execute(
            update(Connection).where(Connection.id.in_(of_alice)).values(message=None)
        )
        checks = await handed_out(tether, CHECKS)
        syncs = await handed_out(tether, SYNCS)

    assert checks == {bob["id"]}, "only the authorization nobody holds goes out"
    assert syncs, "bob's connection goes out"
    assert not syncs & {str(i) for i in of_alice}
    # Released, alice's check and syncs are still due, and go out at the next pass.
    assert await handed_out(tether, CHECKS) == {alice["id"]}
    assert await handed_out(tether, SYNCS) == {str(i) for i in of_alice}


async def test_a_check_recorded_meanwhile_waits_for_the_reconnect_and_counts_from_it(
    org: Org, tether: Tether, engine: Engine
) -> None:
    """No lost update: a check that failed while a reconnect was under way counts its failure
    from what the reconnect wrote (0, so 1), not from what it read before (3, so 4)."""
    alice = await connect_provider(org.api, "sandbox", username="alice")
    authorization_id = uuid.UUID(alice["id"])
    async with tether.sessions.begin() as session:
        await session.execute(
            update(Authorization)
            .where(Authorization.id == authorization_id)
            .values(check_failures=3)
        )
    await tether.sandbox("PUT", "/faults", json={"down": True})
    try:
        async with held(tether, authorization_id) as reconnecting:
            a = await reconnecting.get(Authorization, authorization_id)
            assert a is not None
            a.check_failures = 0
            await reconnecting.flush()
            checking = asyncio.create_task(check(engine, authorization_id, accounts=False))
            await asyncio.sleep(1.0)
            assert not checking.done(), "the check waits while the reconnect holds the row"
        await asyncio.wait_for(checking, PATIENCE)
    finally:
        await tether.sandbox("DELETE", "/faults")

    async with tether.sessions() as session:
        after = await session.get(Authorization, authorization_id)
    assert after is not None
    assert after.check_failures == 1
