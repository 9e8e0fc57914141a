"""The Dramatiq broker: in memory for the embedded server, Redis or RabbitMQ at scale.

Actors bind to the broker when their module is imported, so `setup` runs first
(`tether.worker.actors` imports every domain's tasks after calling it).
"""

from collections.abc import Awaitable, Callable
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO, CurrentMessage, Middleware

from tether.config import Settings
from tether.worker.job_metrics import JobMetrics

Closer = Callable[[], Awaitable[None]]


class CloseOnShutdown(Middleware):
    """Runs `close` on the jobs' event loop once the worker threads have stopped (or the grace
    ran out), while the loop still runs: what jobs opened on it (pools, clients) closes there."""

    def __init__(self, close: Closer) -> None:
        self.close = close

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        thread = get_event_loop_thread()
        if thread is not None:
            thread.run_coroutine(self.close())


def create_broker(settings: Settings, *, on_shutdown: Closer | None = None) -> dramatiq.Broker:
    url = settings.broker_url
    broker: dramatiq.Broker
    if not url:
        broker = StubBroker()
    elif url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        namespace = settings.broker_namespace
        broker = RedisBroker(url=url, namespace=namespace)  # type: ignore[no-untyped-call]
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url)
    else:
        raise ValueError("TETHER_BROKER_URL must start with redis://, rediss:// or amqp://.")
    # Jobs bind their message's id to their log lines (actor.logged).
    broker.add_middleware(CurrentMessage())
    if on_shutdown is not None:
        # Before AsyncIO, whose own after_worker_shutdown stops the loop.
        broker.add_middleware(CloseOnShutdown(on_shutdown))
    broker.add_middleware(AsyncIO())
    broker.add_middleware(JobMetrics())
    return broker


def setup(settings: Settings, *, on_shutdown: Closer | None = None) -> dramatiq.Broker:
    """Create the broker and make it the one actors declare themselves on."""
    broker = create_broker(settings, on_shutdown=on_shutdown)
    dramatiq.set_broker(broker)
    return broker
