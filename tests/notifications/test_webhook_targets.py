"""Webhook targets: only public addresses however they are spelled, judged when an endpoint is
saved and again when it is sent to, and a send tells only a short fixed reason."""

import asyncio
import ipaddress
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.fixtures.builders import Org
from tests.fixtures.receiver import Receiver, allow_private_targets, receiving
from tests.fixtures.running import Tether
from tether.kit import outbound
from tether.models import WebhookDelivery

EVENTS = ["authorization.lapsed"]
LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "localhost",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "[::ffff:127.0.0.1]",
    "[::1]",
]
OTHER_INTERNAL = [
    "10.0.0.5",
    "172.16.4.2",
    "192.168.1.20",
    "100.64.0.1",  # shared (carrier-grade NAT)
    "169.254.169.254",  # a cloud's metadata service
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "[fc00::1]",
    "[fe80::1]",
    "[2002:7f00:1::]",  # 6to4 around 127.0.0.1
    "[64:ff9b::a00:5]",  # NAT64 around 10.0.0.5
]


async def _post(api: httpx.AsyncClient, url: str) -> httpx.Response:
    return await api.post("/api/v1/webhooks", json={"url": url, "events": EVENTS})


async def _create(api: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await _post(api, url)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _test_send(api: httpx.AsyncClient, endpoint_id: str) -> httpx.Response:
    response = await api.post(f"/api/v1/webhooks/{endpoint_id}/test")
    assert response.status_code == 201, response.text
    return response


def _refused_url(response: httpx.Response) -> str:
    """The message of a 422 that names `url`."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert [d["field"] for d in error["details"]] == ["url"]
    return str(error["message"])


def _resolving(monkeypatch: pytest.MonkeyPatch, *answers: list[str]) -> list[str]:
    """The resolver answers its n-th question with the n-th answer (then the last, for ever);
    returns the hosts it was asked about. The system's resolver knows none of these names."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[outbound.IPAddress]:
        asked.append(host)
        answer = answers[min(len(asked), len(answers)) - 1]
        return [ipaddress.ip_address(address) for address in answer]

    monkeypatch.setattr(outbound, "resolve", resolve)
    return asked


@asynccontextmanager
async def _banner_service(banner: bytes) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A service on 127.0.0.1 that is not HTTP (say SSH): it greets with its banner. Yields its
    port and what each connection sent it."""
    seen: list[bytes] = []

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(banner)
        await writer.drain()
        seen.append(await reader.read(4096))
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()
        await server.wait_closed()


# Saving ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS + OTHER_INTERNAL)
async def test_an_internal_address_is_refused_however_it_is_spelled(org: Org, host: str) -> None:
    message = _refused_url(await _post(org.api, f"http://{host}:8080/hooks"))

    assert "only public addresses are allowed" in message
    assert (await org.api.get("/api/v1/webhooks")).json()["total"] == 0


async def test_an_endpoint_cannot_be_moved_to_an_internal_address(org: Org) -> None:
    created = await _create(org.api, "https://hooks.example.com/x")
    endpoint = f"/api/v1/webhooks/{created['id']}"

    moved = await org.api.patch(endpoint, json={"url": "http://0x7f000001:6379/"})

    assert "0x7f000001 is a loopback address" in _refused_url(moved)
    assert (await org.api.get(endpoint)).json()["url"] == "https://hooks.example.com/x"


async def test_a_name_that_resolves_to_a_private_address_is_refused_without_telling_it(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    _resolving(monkeypatch, ["93.184.216.34", "10.20.30.40"])

    message = _refused_url(await _post(org.api, "https://hooks.corp.example/x"))

    assert "hooks.corp.example resolves to a private address" in message
    assert "10.20.30.40" not in message


async def test_a_name_that_does_not_resolve_yet_is_accepted(org: Org) -> None:
    created = await _create(org.api, "https://hooks.not-yet-live.example/tether")

    sent = (await _test_send(org.api, created["id"])).json()

    assert (sent["last_status_code"], sent["last_error"]) == (None, "could not resolve host")


@pytest.mark.parametrize(
    "url",
    ["https://alice:hunter2-secret@hooks.example.com/x", "https://alice@hooks.example.com/x"],
)
async def test_credentials_in_the_url_are_refused(org: Org, url: str) -> None:
    response = await _post(org.api, url)

    assert "user name or password" in _refused_url(response)
    assert "hunter2" not in response.text


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/x", "file:///etc/passwd", "gopher://x/"])
async def test_only_http_and_https_are_accepted(org: Org, url: str) -> None:
    assert "http:// or https://" in _refused_url(await _post(org.api, url))


async def test_https_is_required_when_tether_is_on_https(
    org: Org, tether: Tether, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = await _create(org.api, "http://hooks.example.com/saved-before")
    monkeypatch.setattr(tether.settings, "public_url", "https://tether.agency.example")

    plain = await _post(org.api, "http://hooks.example.com/x")
    secure = await _post(org.api, "https://hooks.example.com/x")
    sent = (await _test_send(org.api, earlier["id"])).json()

    assert "must start with https://" in _refused_url(plain)
    assert secure.status_code == 201
    assert (sent["status"], sent["last_error"]) == ("abandoned", "refused: https required")


# Private targets -------------------------------------------------------------------------------


async def test_a_receiver_beside_tether_is_reached_only_when_private_targets_are_allowed(
    org: Org, tether: Tether, monkeypatch: pytest.MonkeyPatch
) -> None:
    with receiving() as receiver:
        url = f"{receiver.url}/hooks"
        by_default = await _post(org.api, url)
        allow_private_targets(tether.settings, monkeypatch)
        created = await _create(org.api, url)
        sent = (await _test_send(org.api, created["id"])).json()
        metadata = await _post(org.api, "http://169.254.169.254/latest/meta-data/")

    assert "An operator can allow private addresses" in _refused_url(by_default)
    assert (sent["status"], sent["last_status_code"]) == ("delivered", 200)
    assert len(receiver.delivered("/hooks")) == 1
    # Link-local addresses, where cloud metadata services answer, stay refused.
    assert "169.254.169.254 is a link-local address" in _refused_url(metadata)


# Sending ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("later", [["127.0.0.1"], ["93.184.216.34", "127.0.0.1"]])
async def test_a_name_that_turns_to_loopback_after_it_was_saved_is_not_reached(
    org: Org, monkeypatch: pytest.MonkeyPatch, later: list[str]
) -> None:
    with receiving() as receiver:
        asked = _resolving(monkeypatch, ["93.184.216.34"], later)
        created = await _create(org.api, f"http://rebind.example:{receiver.port}/hooks")
        sent = await _test_send(org.api, created["id"])

    assert sent.json()["status"] == "abandoned"
    assert (sent.json()["last_status_code"], sent.json()["last_error"]) == (
        None,
        "refused: address not allowed",
    )
    assert receiver.received() == []
    assert asked == ["rebind.example", "rebind.example"]
    assert "127.0.0.1" not in sent.text


async def test_a_send_connects_to_the_address_it_judged_without_a_second_lookup(
    org: Org, tether: Tether, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_private_targets(tether.settings, monkeypatch)
    with receiving() as receiver:
        asked = _resolving(monkeypatch, ["127.0.0.1"])
        created = await _create(org.api, f"http://pinned.example:{receiver.port}/hooks")
        sent = (await _test_send(org.api, created["id"])).json()

    # Only the judging resolver knows this name: any other lookup would have failed the send.
    assert (sent["status"], sent["last_status_code"]) == ("delivered", 200)
    assert asked == ["pinned.example", "pinned.example"]  # when saved, when sent
    (request,) = receiver.received()
    assert request.headers["host"] == f"pinned.example:{receiver.port}"


async def test_a_test_send_to_a_target_refused_since_it_was_saved_connects_nowhere(
    org: Org, tether: Tether, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _banner_service(b"SSH-2.0-OpenSSH_9.6 build-db-7\r\n") as (port, seen):
        monkeypatch.setattr(tether.settings, "webhooks_allow_private_targets", True)
        created = await _create(org.api, f"http://127.0.0.1:{port}/")
        monkeypatch.setattr(tether.settings, "webhooks_allow_private_targets", False)
        sent = await _test_send(org.api, created["id"])

    assert sent.json()["last_error"] == "refused: address not allowed"
    assert sent.json()["last_status_code"] is None
    assert seen == []


async def test_what_a_target_answers_never_comes_back(
    org: Org, tether: Tether, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_private_targets(tether.settings, monkeypatch)
    async with _banner_service(b"SSH-2.0-OpenSSH_9.6 build-db-7\r\n") as (port, seen):
        service = await _create(org.api, f"http://127.0.0.1:{port}/")
        banner = await _test_send(org.api, service["id"])
    closed = await _test_send(org.api, service["id"])
    with receiving() as receiver:
        receiver.answer(500)
        unwell = await _create(org.api, f"{receiver.url}/hooks")
        answered = await _test_send(org.api, unwell["id"])
    logs = [await org.api.get(f"/api/v1/webhooks/{e['id']}/deliveries") for e in (service, unwell)]

    assert len(seen) == 1  # the service was reached, and its answer was not HTTP
    assert [(r.json()["last_status_code"], r.json()["last_error"]) for r in (banner, closed)] == [
        (None, "invalid HTTP answer"),
        (None, "could not connect"),
    ]
    assert (answered.json()["last_status_code"], answered.json()["last_error"]) == (
        500,
        "answered 500",
    )
    for text in [banner.text, closed.text, answered.text, *(log.text for log in logs)]:
        assert "SSH" not in text
        assert "build-db" not in text
        assert "unwell" not in text  # the receiver's body
        assert "Errno" not in text


async def test_a_redirect_is_not_followed(org: Org, tether: Tether, receiver: Receiver) -> None:
    receiver.answer(302, Location=f"{receiver.url}/elsewhere")
    created = await _create(org.api, f"{receiver.url}/hooks")

    sent = (await _test_send(org.api, created["id"])).json()

    assert (sent["last_status_code"], sent["last_error"]) == (
        302,
        "answered 302: redirects are not followed",
    )
    assert [r.path for r in receiver.received()] == ["/hooks"]


async def test_an_error_recorded_in_other_words_is_withheld(org: Org, tether: Tether) -> None:
    created = await _create(org.api, "https://hooks.not-yet-live.example/tether")
    sent = (await _test_send(org.api, created["id"])).json()
    async with tether.sessions() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == uuid.UUID(sent["id"]))
            .values(last_error="RemoteProtocolError: illegal status line: b'SSH-2.0-OpenSSH'")
        )
        await session.commit()

    (logged,) = (await org.api.get(f"/api/v1/webhooks/{created['id']}/deliveries")).json()["data"]

    assert logged["last_error"] == "failed"
