"""What /metrics tells of notifications: how many wait per channel, how long they took to
arrive, and why webhook attempts failed."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import httpx
import time_machine
from prometheus_client import REGISTRY

from tests.fixtures.connected import Connected
from tests.fixtures.prometheus import scrape, value
from tests.fixtures.receiver import Receiver
from tests.fixtures.running import Tether
from tests.fixtures.smtp import Mailbox
from tether import scrape as metrics_scrape
from tether.db import utcnow
from tether.notifications import email, webhook_delivery

LAG = "tether_notification_delivery_lag_seconds"


async def _pending(tether: Tether) -> dict[str, float]:
    """The pending gauges as a scrape now would read them."""
    settings = tether.settings.model_copy(update={"metrics_cache_seconds": 0})
    await metrics_scrape.State(tether.sessions, settings).refresh()
    return {
        channel: REGISTRY.get_sample_value("tether_notifications_pending", {"channel": channel})
        or 0.0
        for channel in ("email", "webhook")
    }


async def _deliver_webhooks(tether: Tether) -> None:
    async with tether.sessions.begin() as session:
        jobs = await webhook_delivery.DELIVERIES.take_due(session, utcnow(), tether.settings)
    for job in jobs:
        await webhook_delivery.deliver(tether.sessions, tether.settings, *job.args)


async def _send_emails(tether: Tether) -> None:
    async with tether.sessions.begin() as session:
        jobs = await email.take_due(session, utcnow(), tether.settings)
    for job in jobs:
        await email.send_emails(tether.sessions, tether.settings, *job.args)


@contextmanager
def _at(moment: datetime) -> Iterator[None]:
    with time_machine.travel(moment, tick=True):
        yield


async def _lapse(connected: Connected) -> None:
    await connected.tether.sandbox("POST", f"/grants/{await connected.grant_id()}/revoke")
    await connected.check()


async def test_a_webhook_failure_is_counted_by_reason_and_its_delivery_by_lag(
    connected: Connected, receiver: Receiver
) -> None:
    tether, api = connected.tether, connected.org.api
    created = await api.post(
        "/api/v1/webhooks",
        json={"url": f"{receiver.url}/hooks", "events": ["authorization.lapsed"]},
    )
    assert created.status_code == 201, created.text
    before = await scrape(tether.base_url)
    receiver.answer(500)
    await _lapse(connected)
    start = utcnow()

    waiting = await _pending(tether)
    await _deliver_webhooks(tether)
    failed = await scrape(tether.base_url)
    receiver.answer(200)
    with _at(start + timedelta(minutes=5)):
        await _deliver_webhooks(tether)
    delivered = await scrape(tether.base_url)
    after = await _pending(tether)

    answered = {"reason": "answered 500"}
    assert waiting["webhook"] >= 1
    assert (
        value(failed, "tether_webhook_failures_total", **answered)
        - value(before, "tether_webhook_failures_total", **answered)
        == waiting["webhook"]
    )
    lag_count = value(delivered, f"{LAG}_count", channel="webhook") - value(
        before, f"{LAG}_count", channel="webhook"
    )
    assert lag_count == waiting["webhook"]
    lag_sum = value(delivered, f"{LAG}_sum", channel="webhook") - value(
        before, f"{LAG}_sum", channel="webhook"
    )
    assert lag_sum >= 5 * 60 * lag_count  # made before the outage, delivered after it
    assert after["webhook"] == 0


async def test_emails_waiting_are_pending_until_sent_and_then_counted_by_lag(
    connected: Connected, smtp: Mailbox
) -> None:
    tether = connected.tether
    before = await scrape(tether.base_url)
    await _lapse(connected)

    waiting = await _pending(tether)
    await _send_emails(tether)
    after = await _pending(tether)
    sent = await scrape(tether.base_url)

    assert waiting["email"] >= 1
    assert len(smtp.received) >= 1
    assert after["email"] == 0
    assert (
        value(sent, f"{LAG}_count", channel="email")
        - value(before, f"{LAG}_count", channel="email")
        == waiting["email"]
    )


async def test_the_scrape_answers_pending_notifications_over_http(tether: Tether) -> None:
    async with httpx.AsyncClient(base_url=tether.base_url, timeout=10) as http:
        response = await http.get("/metrics")

    assert 'tether_notifications_pending{channel="webhook"}' in response.text
    assert 'tether_notifications_pending{channel="email"}' in response.text
