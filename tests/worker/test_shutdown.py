"""`tether worker` told to stop (SIGTERM, as a deploy or a scale-down does) while a job is in
flight: it takes nothing new, lets the job finish and record its outcome, closes its pools and
exits 0, logging in JSON throughout."""

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from dramatiq import Message
from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.fixtures.builders import create_org
from tests.fixtures.databases import Backend, postgres_backend
from tests.fixtures.fleet import connect_fleet
from tests.fixtures.redis import REDIS_URL, reachable
from tests.fixtures.server import serve
from tests.fixtures.workers import Worker, tether_workers, worker_env
from tether.config import Settings
from tether.db import create_engine, create_sessionmaker
from tether.health.schedule import CHECK_ACTOR
from tether.kit.crypto import KeyRing
from tether.models import Authorization
from tether.sandbox import SandboxState, create_app
from tether.worker.broker import create_broker

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def database() -> Iterator[Backend]:
    yield from postgres_backend()


class Arrivals:
    """The sandbox app, noting when a probe (`GET …/me`) has reached it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.probed = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/me"):
            self.probed.set()
        await self.app(scope, receive, send)


@dataclass
class Stopped:
    """What a worker stopped mid-job left: its exit code, output, the sandbox, the queue."""

    exit_code: int
    output: str
    # Probes the sandbox answered.
    answered: int
    last_checked_at: datetime | None
    unacknowledged: int

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output.splitlines() if line.startswith("{")]


async def stopped_mid_job(
    database: Backend, namespace: str, folder: Path, *, grace: int, slow_ms: int
) -> Stopped:
    """A `tether worker` given one check job, sent SIGTERM once the job's probe has reached
    the sandbox (which holds it `slow_ms`)."""
    engine = create_engine(database.url)
    sessions = create_sessionmaker(engine)
    state = SandboxState.seeded()
    sandbox = Arrivals(create_app(state))
    client = reachable(REDIS_URL)
    try:
        with serve(sandbox) as sandbox_url:
            org = await create_org(sessions, "http://127.0.0.1")
            await org.api.aclose()
            (member,) = await connect_fleet(
                sessions, state, organization_id=org.id, connector_id=org.admin_id, count=1
            )
            state.set_faults(slow_ms=slow_ms)
            env = worker_env(
                folder,
                database.url,
                namespace,
                sandbox_url,
                TETHER_LOG_FORMAT="json",
                TETHER_SHUTDOWN_GRACE_SECONDS=str(grace),
                TETHER_DB_POOL_SIZE="2",
                TETHER_DB_MAX_OVERFLOW="2",
            )
            with tether_workers(1, env, folder, "--no-schedule") as (worker,):
                process = worker.process
                _wait_for(lambda: "Worker running" in worker.output(), worker)
                _enqueue_check(namespace, str(member.authorization_id))
                _wait_for(sandbox.probed.is_set, worker)
                process.send_signal(signal.SIGTERM)
                exit_code = process.wait(timeout=grace + 30)
                output = worker.output()
            answered = state.stats()["totals"]["me"]["ok"]
        async with sessions() as session:
            checked = await session.scalar(
                select(Authorization.last_checked_at).where(
                    Authorization.id == member.authorization_id
                )
            )
        unacknowledged = int(client.hlen(f"{namespace}:default.msgs"))
    finally:
        client.close()
        await engine.dispose()
    return Stopped(exit_code, output, answered, checked, unacknowledged)


async def test_sigterm_lets_the_job_in_flight_finish_then_the_worker_exits_0(
    database: Backend, namespace: str, keyring: KeyRing, tmp_path: Path
) -> None:
    stopped = await stopped_mid_job(database, namespace, tmp_path, grace=30, slow_ms=3000)

    assert stopped.exit_code == 0, stopped.output
    # The job finished: the probe was answered, its outcome recorded, the message acknowledged.
    assert stopped.answered == 1, stopped.output
    assert stopped.last_checked_at is not None, stopped.output
    assert stopped.unacknowledged == 0
    lines = stopped.lines()
    assert any(line["event"] == "Worker has been shut down." for line in lines), stopped.output
    assert not [line for line in lines if line["level"] in ("error", "critical")], stopped.output


async def test_a_job_still_running_after_the_grace_is_left_to_the_queue(
    database: Backend, namespace: str, keyring: KeyRing, tmp_path: Path
) -> None:
    stopped = await stopped_mid_job(database, namespace, tmp_path, grace=1, slow_ms=60_000)

    assert stopped.exit_code == 0, stopped.output
    # The worker did not wait for the probe: nothing was recorded, and the message, never
    # acknowledged, stays with the broker to be handed out again.
    assert stopped.answered == 0
    assert stopped.last_checked_at is None
    assert stopped.unacknowledged == 1


def _enqueue_check(namespace: str, authorization_id: str) -> None:
    settings = Settings(broker_url=REDIS_URL, broker_namespace=namespace)
    bound = create_broker(settings)
    try:
        bound.enqueue(
            Message(
                queue_name="default",
                actor_name=CHECK_ACTOR,
                args=([authorization_id],),
                kwargs={},
                options={},
            )
        )
    finally:
        bound.close()


def _wait_for(done: Callable[[], bool], worker: Worker) -> None:
    """Until `done`; the worker's output is shown when it exits or takes a minute."""
    deadline = time.monotonic() + 60
    while not done():
        assert worker.process.poll() is None, "tether worker exited"
        assert time.monotonic() < deadline, "tether worker did not get there"
        time.sleep(0.1)
