"""`tether serve` stopped and started again on the same data folder: the sandbox mounted in it
still knows every grant, so authorizations made against it stay active."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.builders import connect_sandbox


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(
    data_dir: Path, port: int, log: Path, **settings: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`tether serve` as `make run` starts it (with any `TETHER_*` settings given), until the
    block ends or the test stops it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env.update(settings, TETHER_DATA_DIR=str(data_dir))
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tether.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}", process, log)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "tether serve did not start"
        time.sleep(0.2)


def _api_token(log: Path) -> str:
    token = re.search(r"API token:\s+(tth_\S+)", log.read_text())
    assert token is not None, log.read_text()
    return token.group(1)


async def _connected(base: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as api:
        authorization = await connect_sandbox(api)
    assert authorization["status"] == "active"
    return authorization


async def _checked(base: str, token: str, authorization_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as api:
        checked = await api.post(f"/api/v1/authorizations/{authorization_id}/check")
    assert checked.status_code == 200, checked.text
    answer: dict[str, Any] = checked.json()
    return answer


async def test_a_sandbox_authorization_stays_active_after_tether_is_stopped_and_started(
    tmp_path: Path,
) -> None:
    data, log, port = tmp_path / "data", tmp_path / "serve.log", _free_port()
    base = f"http://127.0.0.1:{port}"
    # Without the scheduler, only the check below uses the grant after the restart.
    quiet = {"TETHER_BACKGROUND": "false"}
    with _serving(data, port, log, **quiet) as process:
        token = _api_token(log)
        authorization = await _connected(base, token)
        # Only the refresh token is left working: after the restart Tether has to refresh.
        async with httpx.AsyncClient(base_url=f"{base}/sandbox/control") as control:
            expired = await control.post("/users/alice/grants/expire-access")
        assert expired.status_code == 200, expired.text
        process.send_signal(signal.SIGINT)  # Ctrl-C
        await asyncio.to_thread(process.wait, 30)

    with _serving(data, port, log, **quiet):
        checked = await _checked(base, token, authorization["id"])

    assert checked["status"] == "active", checked


async def test_a_sandbox_authorization_stays_active_after_tether_is_killed_soon_after_it(
    tmp_path: Path,
) -> None:
    data, log, port = tmp_path / "data", tmp_path / "serve.log", _free_port()
    base = f"http://127.0.0.1:{port}"
    with _serving(data, port, log) as process:
        token = _api_token(log)
        authorization = await _connected(base, token)
        await asyncio.sleep(2)  # the keeper saves within a second of a change
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 30)

    with _serving(data, port, log):
        checked = await _checked(base, token, authorization["id"])

    assert checked["status"] == "active", checked
