"""The queue as Prometheus sees it: how long jobs waited and ran, and how many wait now.

`JobMetrics` is a Dramatiq middleware, so every actor is measured the same way in every
process that runs jobs (`tether worker`, and the embedded server's in-process worker). Latency
is from the moment a job was due (its enqueue time, or its `eta` when it was delayed) to the
moment a worker started it: the time the queue made it wait.
"""

import asyncio
import time
from typing import Any

import dramatiq
import pika
import pika.exceptions
import redis.asyncio as aioredis
from prometheus_client import Gauge, Histogram

from tether.config import Settings

# Seconds, from a few milliseconds (an idle queue) to an hour (a queue far behind).
LATENCY_BUCKETS = (0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30, 60, 300, 900, 3600)
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# A scrape must answer well within Prometheus's own time-out (10 s by default).
DEPTH_SECONDS = 2.0

JOB_LATENCY = Histogram(
    "tether_job_latency_seconds",
    "From a job's enqueue (or its delay's end) to a worker starting it, by actor.",
    ["actor"],
    buckets=LATENCY_BUCKETS,
)
JOB_DURATION = Histogram(
    "tether_job_duration_seconds",
    "How long jobs ran, by actor and outcome (ok, failed).",
    ["actor", "outcome"],
    buckets=DURATION_BUCKETS,
)
QUEUE_DEPTH = Gauge(
    "tether_queue_depth",
    "Jobs waiting in the broker for a worker, by queue (read at scrape time).",
    ["queue"],
    multiprocess_mode="mostrecent",
)


class JobMetrics(dramatiq.Middleware):
    """Times each job: its wait in the queue when it starts, its run when it ends."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        now = time.time()
        due_ms = max(message.message_timestamp, message.options.get("eta") or 0)
        JOB_LATENCY.labels(message.actor_name).observe(max(now - due_ms / 1000, 0.0))
        self._started[message.message_id] = time.perf_counter()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        started = self._started.pop(message.message_id, None)
        if started is not None:
            outcome = "ok" if exception is None else "failed"
            JOB_DURATION.labels(message.actor_name, outcome).observe(time.perf_counter() - started)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._started.pop(message.message_id, None)


async def read_depths(settings: Settings, queues: set[str]) -> dict[str, int]:
    """Jobs waiting in each queue, asked of the broker cheaply (none without a broker)."""
    url = settings.broker_url
    if not url:
        return {}
    if url.startswith(("redis://", "rediss://", "unix://")):
        return await _redis_depths(url, settings.broker_namespace, queues)
    return await asyncio.to_thread(_rabbitmq_depths, url, queues)


async def _redis_depths(url: str, namespace: str, queues: set[str]) -> dict[str, int]:
    # Dramatiq's Redis broker keeps the ids of waiting messages in the list `<namespace>:<queue>`.
    client = aioredis.from_url(url, socket_timeout=DEPTH_SECONDS)
    try:
        async with client.pipeline(transaction=False) as pipe:
            for queue in sorted(queues):
                pipe.llen(f"{namespace}:{queue}")
            counts = await pipe.execute()
    finally:
        await client.aclose()
    return dict(zip(sorted(queues), (int(n) for n in counts), strict=True))


def _rabbitmq_depths(url: str, queues: set[str]) -> dict[str, int]:
    """A passive declare answers a queue's ready messages without touching them."""
    parameters = pika.URLParameters(url)
    parameters.socket_timeout = DEPTH_SECONDS
    parameters.blocked_connection_timeout = DEPTH_SECONDS
    connection = pika.BlockingConnection(parameters)
    depths = {}
    try:
        channel = connection.channel()
        for queue in sorted(queues):
            try:
                depths[queue] = channel.queue_declare(queue, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:  # not declared yet: nothing waits
                depths[queue] = 0
                channel = connection.channel()
    finally:
        connection.close()
    return depths
