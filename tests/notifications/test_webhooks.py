"""Webhooks: signed events reach a real HTTP receiver exactly once, however long it is away."""

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine

from tests.fixtures.builders import Org
from tests.fixtures.connected import Connected
from tests.fixtures.receiver import Receiver
from tests.fixtures.running import Tether
from tether.db import utcnow
from tether.notifications import webhook_delivery, webhook_signing


async def _create(api: httpx.AsyncClient, url: str, events: list[str]) -> dict[str, Any]:
    response = await api.post("/api/v1/webhooks", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _deliveries(api: httpx.AsyncClient, endpoint_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def _drive(tether: Tether) -> int:
    """One scheduler pass for webhooks, and its jobs run as the worker would run them."""
    async with tether.sessions() as session:
        jobs = await webhook_delivery.DELIVERIES.take_due(session, utcnow(), tether.settings)
        await session.commit()
    for job in jobs:
        assert job.actor == "notifications.deliver_webhooks"
        (ids,) = job.args
        await webhook_delivery.deliver(tether.sessions, tether.settings, ids)
    return sum(job.size for job in jobs)


@contextmanager
def _at(moment: datetime) -> Iterator[None]:
    with time_machine.travel(moment, tick=True):
        yield


async def _lapse(connected: Connected) -> None:
    await connected.tether.sandbox("POST", "/users/alice/grants/revoke")
    await connected.check()


def _occurred(request: Any) -> str:
    return str(json.loads(request.body)["occurred_at"])


def _verifies(secret: str, request: Any) -> bool:
    return webhook_signing.verify_signature(
        secret,
        request.headers["tether-timestamp"],
        request.body,
        request.headers["tether-signature"],
        now=request.at,
    )


async def test_admins_manage_endpoints_and_see_each_secret_once(org: Org) -> None:
    created = await _create(
        org.api,
        "https://hooks.example.com/tether",
        ["authorization.restored", "authorization.lapsed"],
    )
    secret = created["secret"]
    endpoint = f"/api/v1/webhooks/{created['id']}"

    listed = await org.api.get("/api/v1/webhooks")
    fetched = await org.api.get(endpoint)
    patched = await org.api.patch(
        endpoint,
        json={"description": "Ops", "events": ["provider.outage"], "active": False,
              "url": "http://hooks.example.net:8080/in"},
    )  # fmt: skip
    rotated = await org.api.post(f"{endpoint}/rotate-secret")
    after = await org.api.get(endpoint)

    assert secret.startswith("whsec_")
    assert len(secret) > 40
    assert created["events"] == ["authorization.lapsed", "authorization.restored"]
    assert created["active"] is True
    assert listed.json()["total"] == 1
    for answer in (listed, fetched, patched, after):
        assert answer.status_code == 200
        assert "secret" not in answer.text
        assert secret not in answer.text
    assert patched.json()["description"] == "Ops"
    assert patched.json()["events"] == ["provider.outage"]
    assert patched.json()["active"] is False
    assert patched.json()["url"] == "http://hooks.example.net:8080/in"
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != secret
    assert rotated.json()["secret"] not in after.text
    assert (await org.api.delete(endpoint)).status_code == 204
    assert (await org.api.get(endpoint)).status_code == 404
    assert (await org.api.get("/api/v1/webhooks")).json()["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://hooks.example.com/x", "events": ["authorization.lapsed"]},
        {"url": "javascript:alert(1)", "events": ["authorization.lapsed"]},
        {"url": "hooks.example.com/x", "events": ["authorization.lapsed"]},
        {"url": "https:///no-host", "events": ["authorization.lapsed"]},
        {"url": "https://hooks.example.com/x", "events": ["authorization.exploded"]},
        {"url": "https://hooks.example.com/x", "events": []},
        {"url": "https://hooks.example.com/x"},
    ],
)
async def test_bad_endpoints_are_refused(org: Org, body: dict[str, Any]) -> None:
    response = await org.api.post("/api/v1/webhooks", json=body)

    assert response.status_code == 422, response.text


async def test_only_admins_manage_webhooks(org: Org) -> None:
    created = await _create(org.api, "https://hooks.example.com/x", ["authorization.lapsed"])
    staff = await org.member("staff")
    viewer = await org.member("viewer")

    for member in (staff, viewer):
        assert (await member.get("/api/v1/webhooks")).status_code == 403
        assert (await member.get(f"/api/v1/webhooks/{created['id']}")).status_code == 403
        refused = await member.post(
            "/api/v1/webhooks",
            json={"url": "https://evil.example.com", "events": ["authorization.lapsed"]},
        )
        assert refused.status_code == 403
        assert "admins" in refused.json()["error"]["message"]


async def test_another_organizations_endpoints_are_404(org: Org, other_org: Org) -> None:
    created = await _create(org.api, "https://hooks.example.com/x", ["authorization.lapsed"])
    endpoint = f"/api/v1/webhooks/{created['id']}"

    answers = [
        await other_org.api.get(endpoint),
        await other_org.api.patch(endpoint, json={"active": False}),
        await other_org.api.post(f"{endpoint}/rotate-secret"),
        await other_org.api.post(f"{endpoint}/test"),
        await other_org.api.get(f"{endpoint}/deliveries"),
        await other_org.api.delete(endpoint),
    ]

    assert [a.status_code for a in answers] == [404] * len(answers)
    assert (await other_org.api.get("/api/v1/webhooks")).json()["total"] == 0
    assert (await org.api.get(endpoint)).json()["active"] is True


async def test_a_lapse_is_posted_once_signed_with_the_endpoints_secret(
    connected: Connected, receiver: Receiver
) -> None:
    created = await _create(connected.org.api, f"{receiver.url}/hooks", ["authorization.lapsed"])
    await connected.tether.sandbox("POST", "/users/alice/grants/revoke")
    for _ in range(3):
        await connected.check()

    handed_out = await _drive(connected.tether)
    again = await _drive(connected.tether)

    assert (handed_out, again) == (1, 0)
    (request,) = receiver.received()
    payload = json.loads(request.body)
    assert request.headers["content-type"] == "application/json"
    assert request.event == payload["event"] == "authorization.lapsed"
    assert request.delivery == payload["delivery_id"]
    assert payload["incident"]["provider"] == "sandbox"
    assert request.body == json.dumps(payload, separators=(",", ":")).encode()
    assert request.headers["tether-signature"].startswith("v1=")
    assert _verifies(created["secret"], request)
    assert not _verifies("whsec_not-the-secret", request)
    stamp, signature = request.headers["tether-timestamp"], request.headers["tether-signature"]
    assert not webhook_signing.verify_signature(
        created["secret"], stamp, request.body.replace(b"lapsed", b"healed"), signature
    )
    assert not webhook_signing.verify_signature(
        created["secret"], stamp, request.body, signature, now=request.at + 301
    )
    (logged,) = await _deliveries(connected.org.api, created["id"])
    assert logged["id"] == request.delivery
    assert logged["event"] == "authorization.lapsed"
    assert logged["status"] == "delivered"
    assert (logged["attempts"], logged["last_status_code"]) == (1, 200)
    assert logged["delivered_at"] is not None
    assert logged["next_attempt_at"] is None


async def test_only_active_subscribed_endpoints_hear_of_an_event(
    connected: Connected, receiver: Receiver
) -> None:
    api = connected.org.api
    await _create(api, f"{receiver.url}/subscribed", ["authorization.lapsed"])
    await _create(api, f"{receiver.url}/other-events", ["authorization.restored"])
    paused = await _create(api, f"{receiver.url}/paused", ["authorization.lapsed"])
    await api.patch(f"/api/v1/webhooks/{paused['id']}", json={"active": False})

    await _lapse(connected)
    await _drive(connected.tether)

    assert [r.path for r in receiver.received()] == ["/subscribed"]


async def test_a_restoration_is_delivered_after_the_lapse(
    connected: Connected, receiver: Receiver
) -> None:
    created = await _create(
        connected.org.api, f"{receiver.url}/hooks", ["connection.lapsed", "connection.restored"]
    )
    lost = connected.accounts[0]["external_id"]

    await connected.tether.sandbox("DELETE", f"/users/alice/accounts/{lost}")
    await connected.check()
    await _drive(connected.tether)
    await connected.tether.sandbox("PUT", f"/users/alice/accounts/{lost}")
    await connected.check()
    await _drive(connected.tether)

    lapsed, restored = receiver.delivered()
    assert (lapsed.event, restored.event) == ("connection.lapsed", "connection.restored")
    body = json.loads(restored.body)
    assert body["incident"]["id"] == json.loads(lapsed.body)["incident"]["id"]
    assert body["incident"]["closed_at"] is not None
    assert "works again" in body["message"]
    assert _verifies(created["secret"], restored)


async def test_a_test_send_is_attempted_at_once_and_logged(org: Org, receiver: Receiver) -> None:
    created = await _create(org.api, f"{receiver.url}/hooks", ["authorization.lapsed"])
    endpoint = f"/api/v1/webhooks/{created['id']}"

    sent = await org.api.post(f"{endpoint}/test")
    rotated = (await org.api.post(f"{endpoint}/rotate-secret")).json()["secret"]
    after_rotation = await org.api.post(f"{endpoint}/test")

    assert sent.status_code == 201, sent.text
    assert sent.json()["event"] == "webhook.test"
    assert sent.json()["status"] == "delivered"
    assert (sent.json()["attempts"], sent.json()["last_status_code"]) == (1, 200)
    first, second = receiver.received()
    assert first.event == "webhook.test"
    assert first.delivery == sent.json()["id"]
    assert json.loads(first.body)["endpoint_id"] == created["id"]
    assert _verifies(created["secret"], first)
    assert after_rotation.json()["status"] == "delivered"
    assert _verifies(rotated, second)
    assert not _verifies(created["secret"], second)


async def test_a_failed_test_send_says_why_and_is_not_retried(
    org: Org, tether: Tether, receiver: Receiver
) -> None:
    created = await _create(org.api, f"{receiver.url}/hooks", ["authorization.lapsed"])
    endpoint = f"/api/v1/webhooks/{created['id']}"
    receiver.answer(500)

    failed = (await org.api.post(f"{endpoint}/test")).json()
    receiver.stop()
    refused = (await org.api.post(f"{endpoint}/test")).json()
    await org.api.patch(endpoint, json={"active": False})
    paused = await org.api.post(f"{endpoint}/test")
    with _at(utcnow() + timedelta(hours=2)):
        handed_out = await _drive(tether)

    assert failed["status"] == "abandoned"
    assert (failed["attempts"], failed["last_status_code"]) == (1, 500)
    assert failed["last_error"] == "answered 500"
    assert refused["status"] == "abandoned"
    assert refused["last_status_code"] is None
    assert refused["last_error"] == "could not connect"
    assert paused.status_code == 409
    assert handed_out == 0
    assert len(receiver.received()) == 1


async def test_the_delivery_log_pages_newest_first(org: Org, receiver: Receiver) -> None:
    created = await _create(org.api, f"{receiver.url}/hooks", ["authorization.lapsed"])
    endpoint = f"/api/v1/webhooks/{created['id']}"
    sent = [(await org.api.post(f"{endpoint}/test")).json()["id"] for _ in range(3)]

    first = (await org.api.get(f"{endpoint}/deliveries", params={"limit": 2})).json()
    rest = await org.api.get(
        f"{endpoint}/deliveries", params={"limit": 2, "cursor": first["next_cursor"]}
    )

    assert [d["id"] for d in first["data"] + rest.json()["data"]] == sent[::-1]
    assert rest.json()["next_cursor"] is None


async def test_a_receiver_that_is_down_for_a_while_gets_everything_once_when_back(
    connected: Connected, receiver: Receiver
) -> None:
    tether, api = connected.tether, connected.org.api
    created = await _create(
        api, f"{receiver.url}/hooks", ["connection.lapsed", "connection.restored"]
    )
    lost = connected.accounts[0]["external_id"]
    start = utcnow()

    # Failing: the lapse is answered 500; then nothing listens while the connection comes back.
    receiver.answer(500)
    await tether.sandbox("DELETE", f"/users/alice/accounts/{lost}")
    await connected.check()
    assert await _drive(tether) == 1
    receiver.stop()
    await tether.sandbox("PUT", f"/users/alice/accounts/{lost}")
    await connected.check()
    for hour in (1, 2, 3):
        with _at(start + timedelta(hours=hour, minutes=hour)):
            assert await _drive(tether) == 2
            assert await _drive(tether) == 0  # nothing is due again before its back-off
    during = await _deliveries(api, created["id"])

    # Back: everything arrives, once, and further passes send nothing.
    receiver.start()
    receiver.answer(200)
    with _at(start + timedelta(hours=4, minutes=10)):
        assert await _drive(tether) == 2
    for hour in (5, 30):
        with _at(start + timedelta(hours=hour)):
            assert await _drive(tether) == 0
    after = await _deliveries(api, created["id"])

    assert receiver.delivered_per_id() == {d["id"]: 1 for d in after}
    # Sent concurrently, they may arrive in either order: `occurred_at` tells which came first.
    assert [r.event for r in sorted(receiver.delivered(), key=_occurred)] == [
        "connection.lapsed",
        "connection.restored",
    ]
    assert all(_verifies(created["secret"], r) for r in receiver.received())
    restored, lapsed = during
    assert (lapsed["event"], restored["event"]) == ("connection.lapsed", "connection.restored")
    assert (lapsed["attempts"], restored["attempts"]) == (4, 3)
    assert lapsed["status"] == restored["status"] == "pending"
    assert lapsed["last_status_code"] is None
    assert lapsed["last_error"] == "could not connect"
    assert lapsed["next_attempt_at"] is not None
    restored, lapsed = after
    assert (lapsed["attempts"], restored["attempts"]) == (5, 4)
    assert lapsed["status"] == restored["status"] == "delivered"
    assert lapsed["last_status_code"] == restored["last_status_code"] == 200
    assert lapsed["last_error"] is None
    assert [r.answered for r in receiver.received()] == [500, 200, 200]
    everything = json.dumps([during, after]) + (await api.get("/api/v1/webhooks")).text
    assert created["secret"] not in everything


@pytest.mark.parametrize("answer", [200, 503])
async def test_a_delivery_named_in_several_jobs_at_once_is_attempted_once(
    connected: Connected, receiver: Receiver, answer: int
) -> None:
    tether = connected.tether
    created = await _create(connected.org.api, f"{receiver.url}/hooks", ["authorization.lapsed"])
    receiver.answer(answer, delay=0.3)
    await _lapse(connected)
    async with tether.sessions() as session:
        (job,) = await webhook_delivery.DELIVERIES.take_due(session, utcnow(), tether.settings)
        await session.commit()
    (ids,) = job.args

    await asyncio.gather(
        *(webhook_delivery.deliver(tether.sessions, tether.settings, ids + ids) for _ in range(4))
    )

    (request,) = receiver.received()
    assert request.delivery == ids[0]
    (logged,) = await _deliveries(connected.org.api, created["id"])
    assert (logged["attempts"], logged["last_status_code"]) == (1, answer)


async def test_a_delivered_delivery_is_never_sent_again(
    connected: Connected, receiver: Receiver
) -> None:
    tether = connected.tether
    await _create(connected.org.api, f"{receiver.url}/hooks", ["authorization.lapsed"])
    await _lapse(connected)
    async with tether.sessions() as session:
        (job,) = await webhook_delivery.DELIVERIES.take_due(session, utcnow(), tether.settings)
        await session.commit()
    (ids,) = job.args

    for _ in range(3):
        await webhook_delivery.deliver(tether.sessions, tether.settings, ids)
    with _at(utcnow() + timedelta(days=2)):
        await webhook_delivery.deliver(tether.sessions, tether.settings, ids)

    assert receiver.delivered_per_id() == {ids[0]: 1}
    assert len(receiver.received()) == 1


async def test_a_delivery_is_abandoned_after_a_day_of_failures(
    connected: Connected, receiver: Receiver
) -> None:
    tether, api = connected.tether, connected.org.api
    created = await _create(api, f"{receiver.url}/hooks", ["authorization.lapsed"])
    receiver.answer(503, Retry_After="600")
    await _lapse(connected)
    start = utcnow()

    await _drive(tether)
    (first,) = await _deliveries(api, created["id"])
    receiver.answer(503)
    for hours in (12, 23.99, 24.5):
        with _at(start + timedelta(hours=hours)):
            assert await _drive(tether) == 1
    (last,) = await _deliveries(api, created["id"])
    for hours in (25, 48):
        with _at(start + timedelta(hours=hours)):
            assert await _drive(tether) == 0

    retry_at = datetime.fromisoformat(first["next_attempt_at"])
    assert timedelta(seconds=590) < retry_at - start < timedelta(seconds=620)
    assert first["status"] == "pending"
    assert last["status"] == "abandoned"
    assert last["abandoned_at"] is not None
    assert last["next_attempt_at"] is None
    assert (last["attempts"], last["last_status_code"]) == (4, 503)
    assert len(receiver.received()) == 4
    assert receiver.delivered() == []


def test_back_off_doubles_from_30_seconds_to_an_hour_and_retry_after_is_honoured() -> None:
    assert 24 <= webhook_delivery.RETRIES.backoff.after(1).total_seconds() <= 36
    assert 48 <= webhook_delivery.RETRIES.backoff.after(2).total_seconds() <= 72
    assert webhook_delivery.RETRIES.backoff.after(10).total_seconds() <= 3600
    assert webhook_delivery.RETRIES.backoff.after(1000).total_seconds() <= 3600
    now = utcnow()
    assert webhook_delivery.retry_after("120") == 120
    assert webhook_delivery.retry_after("99999") == 3600
    assert webhook_delivery.retry_after("-5") == 1
    assert webhook_delivery.retry_after("nonsense") is None
    assert webhook_delivery.retry_after(None) is None
    later = (now + timedelta(minutes=5)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 290 < (webhook_delivery.retry_after(later, now) or 0) <= 300
