"""A `tether worker` is probed and scraped like a web replica: /livez, /readyz and /metrics on
its own port, with the jobs it ran counted there."""

import asyncio
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pika
import pytest
from dramatiq import Message
from prometheus_client import REGISTRY

from tests.fixtures.connected import Connected
from tests.fixtures.prometheus import scrape, value
from tests.fixtures.redis import REDIS_URL
from tests.fixtures.running import Tether
from tests.fixtures.workers import tether_workers, worker_env
from tether import scrape as scrape_state
from tether.config import Settings
from tether.db import utcnow
from tether.health.schedule import CHECK_ACTOR
from tether.models import Authorization
from tether.worker.broker import create_broker
from tether.worker.job_metrics import read_depths

RABBITMQ_URL = os.environ.get("TETHER_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
QUEUE = "default"  # the queue Tether's actors use
# Generous: a loaded machine starts a Python process, PostgreSQL connections and the broker.
WITHIN_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until(
    what: str, process: subprocess.Popen[bytes], done: Callable[[], Awaitable[bool]]
) -> None:
    deadline = time.monotonic() + WITHIN_SECONDS
    while True:
        try:
            if await done():
                return
        except httpx.TransportError:
            pass  # not listening yet
        if process.poll() is not None:
            pytest.fail(f"tether worker exited (code {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"waited {WITHIN_SECONDS:.0f} s for {what}")
        await asyncio.sleep(0.2)


async def set_next_check(connected: Connected, when: datetime) -> None:
    async with connected.tether.sessions.begin() as session:
        stored = await session.get(Authorization, uuid.UUID(connected.id))
        assert stored is not None
        stored.next_check_at = when


async def test_a_worker_serves_probes_and_metrics_and_counts_the_jobs_it_ran(
    connected: Connected, namespace: str, tmp_path: Path
) -> None:
    tether = connected.tether
    port = free_port()
    env = worker_env(
        tmp_path,
        tether.backend.url,
        namespace,
        tether.sandbox_url,
        TETHER_SCHEDULER_TICK_SECONDS="0.2",
        TETHER_METRICS_CACHE_SECONDS="0",
        TETHER_WORKER_HOST="127.0.0.1",
        TETHER_WORKER_PORT=str(port),
        TETHER_WORKER_THREADS="2",
        TETHER_DB_POOL_SIZE="3",
        TETHER_DB_MAX_OVERFLOW="2",
    )
    base_url = f"http://127.0.0.1:{port}"
    job = {"actor": CHECK_ACTOR, "outcome": "ok"}
    await set_next_check(connected, utcnow() + timedelta(days=1))  # nothing due at start
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        with tether_workers(1, env, tmp_path) as (started,):
            process = started.process

            async def alive() -> bool:
                return (await http.get("/livez")).status_code == 200

            await until("/livez answered", process, alive)
            ready = await http.get("/readyz")
            before = await scrape(base_url)
            await set_next_check(connected, utcnow())  # due now: the scheduler hands it out

            async def checked() -> bool:
                text = await scrape(base_url)
                return value(text, "tether_job_duration_seconds_count", **job) > 0

            await until("the check job ran", process, checked)
            after = await scrape(base_url)

    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "schema": "ok", "broker": "ok"}
    assert value(before, "tether_job_duration_seconds_count", **job) == 0
    assert value(after, "tether_job_latency_seconds_count", actor=CHECK_ACTOR) >= 1
    ok_probe = {"provider": "sandbox", "outcome": "ok", "reason": ""}
    assert value(after, "tether_probes_total", **ok_probe) >= 1
    assert value(after, "tether_authorizations", provider="sandbox", status="active") == 1
    assert 'tether_queue_depth{queue="default"}' in after


async def test_queue_depth_is_what_waits_in_redis(tether: Tether, namespace: str) -> None:
    settings = tether.settings.model_copy(
        update={"broker_url": REDIS_URL, "broker_namespace": namespace, "metrics_cache_seconds": 0}
    )
    broker = create_broker(settings)
    try:
        broker.declare_queue(QUEUE)
        for _ in range(3):
            broker.enqueue(Message(QUEUE, CHECK_ACTOR, ([],), {}, {}))

        await scrape_state.State(tether.sessions, settings).refresh()
    finally:
        broker.close()

    assert REGISTRY.get_sample_value("tether_queue_depth", {"queue": QUEUE}) == 3


def test_queue_depth_is_what_waits_in_rabbitmq() -> None:
    queue = f"tether-test-{uuid.uuid4().hex[:12]}"
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    channel = connection.channel()
    try:
        channel.queue_declare(queue)
        for n in range(2):
            channel.basic_publish("", queue, f"job {n}".encode())
        settings = Settings(broker_url=RABBITMQ_URL)

        depths = asyncio.run(read_depths(settings, {queue, f"{queue}-never-declared"}))
    finally:
        channel.queue_delete(queue)
        connection.close()

    assert depths == {queue: 2, f"{queue}-never-declared": 0}
