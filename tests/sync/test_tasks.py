"""The scheduler hands due syncs to the `sync.sync_connections` actor; a recovery makes the
connections it covered due again at once."""

from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from tests.fixtures.broker import run_queued_jobs
from tests.fixtures.connected import Connected
from tests.fixtures.running import Tether
from tether.db import utcnow
from tether.models import Connection
from tether.worker import scheduler


async def _connections(tether: Tether) -> list[Connection]:
    async with tether.sessions() as session:
        return list((await session.scalars(select(Connection))).all())


async def test_the_scheduler_hands_new_connections_to_the_sync_actor(
    connected: Connected, stub_broker: StubBroker
) -> None:
    tether = connected.tether

    handed_out = await scheduler.tick(tether.sessions, tether.settings)
    again = await scheduler.tick(tether.sessions, tether.settings)
    run_queued_jobs(stub_broker)

    assert handed_out >= 2  # the two syncs (and the grant's first check, if due)
    assert again == 0
    for connection in await _connections(tether):
        assert connection.last_synced_at is not None
        assert connection.sync_error is None
        assert connection.next_sync_at is not None
        assert connection.next_sync_at > utcnow()


async def test_an_account_regained_makes_its_connection_due_at_once(
    connected: Connected,
) -> None:
    lost, _ = connected.accounts
    await connected.tether.sandbox("DELETE", f"/users/alice/accounts/{lost['external_id']}")
    await connected.check()
    async with connected.tether.sessions() as session:
        for connection in (await session.scalars(select(Connection))).all():
            connection.next_sync_at = None
        await session.commit()

    await connected.tether.sandbox("PUT", f"/users/alice/accounts/{lost['external_id']}")
    await connected.check()

    due = {
        c.account_external_id: c.next_sync_at is not None and c.next_sync_at <= utcnow()
        for c in await _connections(connected.tether)
    }
    assert due == {lost["external_id"]: True, connected.accounts[1]["external_id"]: False}
