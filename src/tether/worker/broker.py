"""The Dramatiq broker: in memory for the embedded server, Redis or RabbitMQ at scale.

Actors bind to the broker when their module is imported, so `setup` runs first
(`tether.worker.actors` imports every domain's tasks after calling it).
"""

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from tether.config import Settings
from tether.worker.job_metrics import JobMetrics


def create_broker(settings: Settings) -> dramatiq.Broker:
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
    broker.add_middleware(AsyncIO())
    broker.add_middleware(JobMetrics())
    return broker


def setup(settings: Settings) -> dramatiq.Broker:
    """Create the broker and make it the one actors declare themselves on."""
    broker = create_broker(settings)
    dramatiq.set_broker(broker)
    return broker
