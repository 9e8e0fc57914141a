"""Every answer carries its request id and the time Tether took (Server-Timing). Tether's
server keeps an idle connection open longer than its clients do (httpx: 5 s), so a client
reusing one never meets a connection the server has just closed; behind a trusted proxy it
takes the client's address and scheme from the proxy's headers."""

import asyncio
import re
from urllib.parse import urlsplit

import httpx

from tests.fixtures.running import Tether, alongside

HTTPX_KEEPALIVE_SECONDS = 5.0


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> bytes:
    writer.write(f"GET /livez HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = int(
        next(
            line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        ).split(b":")[1]
    )
    await reader.readexactly(length)
    return head.split(b"\r\n", 1)[0]


async def test_every_answer_names_its_request_and_the_time_tether_took(tether: Tether) -> None:
    async with httpx.AsyncClient(base_url=tether.base_url) as http:
        kept = await http.get("/livez", headers={"X-Request-Id": "lb-7f3a.2"})
        replaced = await http.get("/livez", headers={"X-Request-Id": "evil\\n{json}"})
        missing = await http.get("/no-such-page")

    assert kept.headers.get_list("x-request-id") == ["lb-7f3a.2"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", missing.headers["x-request-id"])
    assert missing.status_code == 404
    for answer in (kept, replaced, missing):
        (timing,) = answer.headers.get_list("server-timing")
        assert re.fullmatch(r"app;dur=\d+\.\d\d", timing)


async def test_an_idle_connection_outlives_the_clients_own_keep_alive(tether: Tether) -> None:
    url = urlsplit(tether.base_url)
    assert url.hostname is not None
    assert url.port is not None
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        first = await _get(reader, writer, url.netloc)
        await asyncio.sleep(HTTPX_KEEPALIVE_SECONDS + 1)  # idle past a client's own limit
        second = await _get(reader, writer, url.netloc)
    finally:
        writer.close()

    assert (first, second) == (b"HTTP/1.1 200 OK", b"HTTP/1.1 200 OK")


async def test_behind_a_trusted_tls_proxy_links_tether_makes_are_https(tether: Tether) -> None:
    """The proxy ends TLS and says so in X-Forwarded-Proto; a redirect Tether makes from the
    request's own address (a trailing slash dropped) keeps the member on https."""
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    with alongside(tether, trusted_proxies="127.0.0.1") as proxied:
        async with httpx.AsyncClient(base_url=proxied.base_url) as http:
            behind = await http.get("/api/v1/clients/", headers=headers)
    async with httpx.AsyncClient(base_url=tether.base_url) as http:
        direct = await http.get("/api/v1/clients/", headers=headers)

    assert behind.status_code == direct.status_code == 307
    assert behind.headers["location"].startswith("https://")
    # Not from a trusted proxy: the header is the client's word, and ignored.
    assert direct.headers["location"].startswith("http://127.0.0.1")
