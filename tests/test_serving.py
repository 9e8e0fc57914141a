"""Tether's server keeps an idle connection open longer than its clients do (httpx: 5 s), so a
client reusing one never meets a connection the server has just closed."""

import asyncio
from urllib.parse import urlsplit

from tests.fixtures.running import Tether

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
