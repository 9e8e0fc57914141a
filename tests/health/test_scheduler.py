"""The scheduler hands out due checks once, one scheduler at a time, and re-drives lost ones."""

import uuid
from datetime import timedelta

import time_machine
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from tests.conftest import Tether
from tests.fixtures.broker import run_queued_jobs
from tests.fixtures.builders import Org, connect_sandbox
from tether.db import utcnow
from tether.models import Authorization
from tether.worker import leadership_repository as leadership
from tether.worker import scheduler


async def _authorizations(tether: Tether) -> list[Authorization]:
    async with tether.sessions() as session:
        return list((await session.scalars(select(Authorization))).all())


async def test_due_checks_are_handed_out_once_and_run_by_a_worker(
    org: Org, tether: Tether, stub_broker: StubBroker
) -> None:
    for user in ("alice", "bob", "carol"):
        await connect_sandbox(org.api, username=user)

    first = await scheduler.tick(tether.sessions, tether.settings)
    second = await scheduler.tick(tether.sessions, tether.settings)
    run_queued_jobs(stub_broker)

    assert (first, second) == (3, 0)
    checked = await _authorizations(tether)
    assert all(a.last_checked_at is not None for a in checked)
    interval = tether.settings.check_interval_seconds
    for a in checked:
        assert a.next_check_at is not None
        ahead = (a.next_check_at - utcnow()).total_seconds()
        assert 0.85 * interval <= ahead <= 1.15 * interval


async def test_checks_are_spread_over_the_interval(org: Org, tether: Tether) -> None:
    from tether.config import Settings
    from tether.health.classify import next_check

    now = utcnow()
    times = sorted(next_check(now, Settings()) for _ in range(200))

    assert times[-1] - times[0] > timedelta(seconds=Settings().check_interval_seconds * 0.15)


async def test_a_check_lost_by_the_broker_is_handed_out_again(
    org: Org, tether: Tether, stub_broker: StubBroker
) -> None:
    await connect_sandbox(org.api)
    assert await scheduler.tick(tether.sessions, tether.settings) == 1
    stub_broker.flush_all()  # the message is lost

    later = utcnow().timestamp() + tether.settings.dispatch_timeout_seconds + 5
    with time_machine.travel(later, tick=True):
        assert await scheduler.tick(tether.sessions, tether.settings) == 1


async def test_only_one_scheduler_leads_at_a_time(tether: Tether) -> None:
    now = utcnow()
    ttl = timedelta(seconds=30)
    async with tether.sessions() as first, tether.sessions() as second:
        leads = await leadership.try_lead(first, name="scheduler", holder="a", now=now, ttl=ttl)
        if tether.backend.name == "sqlite":
            await first.commit()
        others = await leadership.try_lead(second, name="scheduler", holder="b", now=now, ttl=ttl)
        await second.rollback()
        await first.commit()

    assert leads is True
    assert others is False
    async with tether.sessions() as third:
        later = now + ttl + timedelta(seconds=1)
        assert await leadership.try_lead(third, name="scheduler", holder="b", now=later, ttl=ttl)
        await third.commit()


async def test_a_deleted_authorization_is_skipped(tether: Tether, stub_broker: StubBroker) -> None:
    from tether.health.checks import check

    assert await check(runtime_engine(tether), uuid.uuid4()) is None


def runtime_engine(tether: Tether):  # type: ignore[no-untyped-def]
    from tether.health.checks import Engine
    from tether.providers.registry import Registry

    return Engine(tether.sessions, Registry(), tether.settings)
