"""Webhook signatures: Standard Webhooks, checked by that specification's own library, and the
older Tether-Signature beside it for receivers that have not moved over yet."""

import base64
import json
import secrets
import uuid
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.fixtures.builders import Org
from tests.fixtures.connected import Connected
from tests.fixtures.receiver import Received, Receiver
from tests.fixtures.running import Tether
from tether import vault
from tether.db import utcnow
from tether.models import WebhookEndpoint
from tether.notifications import webhook_delivery, webhook_signing


async def _create(api: httpx.AsyncClient, url: str, events: list[str]) -> dict[str, Any]:
    response = await api.post("/api/v1/webhooks", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _older_signature_verifies(secret: str, request: Received) -> bool:
    return webhook_signing.verify_signature(
        secret,
        request.headers["tether-timestamp"],
        request.body,
        request.headers["tether-signature"],
        now=request.at,
    )


async def test_every_delivery_verifies_with_the_standard_webhooks_library(
    connected: Connected, receiver: Receiver
) -> None:
    tether, api = connected.tether, connected.org.api
    created = await _create(api, f"{receiver.url}/hooks", ["authorization.lapsed"])
    await tether.sandbox("POST", "/users/alice/grants/revoke")
    await connected.check()
    async with tether.sessions() as session:
        (job,) = await webhook_delivery.DELIVERIES.take_due(session, utcnow(), tether.settings)
        await session.commit()
    await webhook_delivery.deliver(tether.sessions, tether.settings, *job.args)
    sent = (await api.post(f"/api/v1/webhooks/{created['id']}/test")).json()

    lapse, test = receiver.received()
    hook = Webhook(created["secret"])
    assert hook.verify(lapse.body, lapse.headers)["event"] == "authorization.lapsed"
    assert hook.verify(test.body, test.headers)["delivery_id"] == sent["id"]
    for request in (lapse, test):
        assert (
            request.headers["webhook-id"]
            == request.delivery
            == json.loads(request.body)["delivery_id"]
        )
        assert request.headers["webhook-timestamp"] == request.headers["tether-timestamp"]
        assert request.headers["webhook-signature"].startswith("v1,")
        # The older headers still come, and still verify, while receivers move over.
        assert _older_signature_verifies(created["secret"], request)
    with pytest.raises(WebhookVerificationError):
        hook.verify(test.body.replace(b"test", b"tost"), test.headers)
    with pytest.raises(WebhookVerificationError):
        hook.verify(test.body, {**test.headers, "webhook-id": str(uuid.uuid4())})
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_signing.new_secret()).verify(test.body, test.headers)


async def test_secrets_are_standard_webhooks_secrets(org: Org) -> None:
    created = await _create(org.api, "https://hooks.example.com/x", ["authorization.lapsed"])
    rotated = await org.api.post(f"/api/v1/webhooks/{created['id']}/rotate-secret")

    for secret in (created["secret"], rotated.json()["secret"]):
        assert secret.startswith("whsec_")
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        assert len(key) == 32


async def test_an_endpoint_keeps_a_secret_issued_before_standard_webhooks(
    org: Org, tether: Tether, receiver: Receiver
) -> None:
    created = await _create(org.api, f"{receiver.url}/hooks", ["authorization.lapsed"])
    older = _older_style_secret()
    async with tether.sessions() as session:
        endpoint = await session.get(WebhookEndpoint, uuid.UUID(created["id"]))
        assert endpoint is not None
        endpoint.secret = vault.seal(older)
        await session.commit()

    sent = (await org.api.post(f"/api/v1/webhooks/{created['id']}/test")).json()
    rotated = (await org.api.post(f"/api/v1/webhooks/{created['id']}/rotate-secret")).json()
    await org.api.post(f"/api/v1/webhooks/{created['id']}/test")

    before, after = receiver.received()
    assert sent["status"] == "delivered"
    assert _older_signature_verifies(older, before)
    # Its key, as docs/notifications.md tells its holder to hand it to the library.
    key = base64.urlsafe_b64decode(older.removeprefix("whsec_") + "=")
    assert Webhook(key).verify(before.body, before.headers)["delivery_id"] == sent["id"]
    assert Webhook(rotated["secret"]).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(key).verify(after.body, after.headers)


def _older_style_secret() -> str:
    """A secret as Tether issued them before: URL-safe base64, here with a `-` or a `_`."""
    while True:
        secret = "whsec_" + secrets.token_urlsafe(32)
        if {"-", "_"} & set(secret.removeprefix("whsec_")):
            return secret


def test_older_signatures_are_checked_against_the_raw_body_and_the_clock() -> None:
    body = b'{"event":"webhook.test"}'
    header = webhook_signing.sign("whsec_abc", 1_700_000_000, body)
    verify = webhook_signing.verify_signature

    assert verify("whsec_abc", "1700000000", body, header, now=1_700_000_100)
    assert verify("whsec_abc", 1_700_000_000, body.decode(), f"v1=00, {header}", now=1_700_000_000)
    assert not verify("whsec_abd", "1700000000", body, header, now=1.7e9)
    assert not verify("whsec_abc", "1700000001", body, header, now=1.7e9)
    assert not verify("whsec_abc", "1700000000", body, header, now=1.7e9 + 301)
    assert not verify("whsec_abc", "soon", body, header, now=1.7e9)
    assert not verify("whsec_abc", "1700000000", body, "v0=" + header[3:])
