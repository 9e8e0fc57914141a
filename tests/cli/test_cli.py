"""The `tether` command as a person or a script uses it, run as a real process."""

import asyncio
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.builders import connect_sandbox
from tether import demo

TETHER = [sys.executable, "-m", "tether.cli"]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    return {**env, "TETHER_DATA_DIR": str(data_dir), **extra}


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TETHER, *args], env=_env(data_dir), capture_output=True, text=True, timeout=60
    )


def test_admin_create_prints_a_token_that_works_for_scripting(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0

    created = _run(tmp_path, "admin", "create", "ops@agency.example.com", "-o", "Acme Agency")
    client = _run(tmp_path, "clients", "create", "Northwind", "-o", "Acme Agency")
    listed = _run(tmp_path, "clients", "list", "-o", "Acme Agency")
    again = _run(tmp_path, "admin", "create", "ops@agency.example.com", "-o", "Acme Agency")

    assert created.returncode == 0, created.stderr
    assert re.fullmatch(r"tth_[\w-]{40,}\n", created.stdout)
    assert client.returncode == 0
    assert "Northwind" in listed.stdout
    assert again.returncode == 1
    assert "already a member" in again.stderr
    assert "Traceback" not in again.stderr


def test_providers_lists_the_catalog(tmp_path: Path) -> None:
    result = _run(tmp_path, "providers")

    assert result.returncode == 0
    assert "sandbox" in result.stdout
    assert "google_ads" in result.stdout


def test_generate_key_prints_a_usable_key_entry(tmp_path: Path) -> None:
    result = _run(tmp_path, "secrets", "generate-key", "k2")

    assert re.fullmatch(r"k2:[A-Za-z0-9+/]{43}=\n", result.stdout)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    """`tether serve` on a fresh data folder, as the README's first command runs it (with any
    extra settings a test passes through `@pytest.mark.parametrize("served", ..., indirect=True)`).
    """
    extra: dict[str, str] = getattr(request, "param", {})
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*TETHER, "serve", "--port", str(port)],
            env=_env(tmp_path / "data", **extra),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "tether serve did not start"
        time.sleep(0.2)
    try:
        yield base, process, log
    finally:
        process.terminate()
        process.wait(timeout=20)


async def test_serve_seeds_the_demo_once_and_keeps_secrets_out_of_its_logs(
    served: tuple[str, subprocess.Popen[str], Path], tmp_path: Path
) -> None:
    base, _, log = served
    banner = log.read_text()
    token = re.search(r"API token:\s+(tth_\S+)", banner)
    assert token is not None, banner
    saved = tmp_path / "data" / "demo-credentials.txt"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data" / "secret.keys").stat().st_mode) == 0o600
    assert token.group(1) in saved.read_text()

    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token.group(1)}"}, timeout=30
    ) as api:
        clients = (await api.get("/api/v1/clients")).json()
        authorization = await connect_sandbox(api)
        started = await api.post("/api/v1/authorizations/oauth/start", json={"provider": "sandbox"})

    assert clients["total"] == len(demo.CLIENTS)
    assert authorization["status"] == "active"
    state = httpx.URL(started.json()["authorize_url"]).params["state"]
    after_banner = log.read_text()[len(banner) :]
    checked = await asyncio.to_thread(
        subprocess.run,
        [*TETHER, "check", "-o", "Demo Agency"],
        env=_env(tmp_path / "data", TETHER_SANDBOX_URL=f"{base}/sandbox"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert re.search(r"active\s+│\s+1", checked.stdout), checked.stdout
    assert "/oauth/callback?code=***" in after_banner  # the access log is there, redacted
    assert token.group(1) not in after_banner
    assert state not in after_banner
    assert "Traceback" not in after_banner


def test_worker_without_a_broker_explains_what_to_set(tmp_path: Path) -> None:
    result = _run(tmp_path, "worker")

    assert result.returncode == 1
    assert "TETHER_BROKER_URL" in result.stderr


FAST = {"TETHER_CHECK_INTERVAL_SECONDS": "2", "TETHER_SCHEDULER_TICK_SECONDS": "0.3"}


async def _until(what: str, probe: Callable[[], Awaitable[bool]], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not await probe():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.3)


@pytest.mark.parametrize("served", [FAST], indirect=True)
async def test_the_embedded_worker_finds_a_lapse_and_tells_by_email_on_its_own(
    served: tuple[str, subprocess.Popen[str], Path], tmp_path: Path
) -> None:
    base, _, log = served
    token = re.search(r"API token:\s+(tth_\S+)", log.read_text())
    assert token is not None
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as api:
        authorization = await connect_sandbox(api)
        account = (await api.get(f"/api/v1/authorizations/{authorization['id']}/accounts")).json()
        client = (await api.get("/api/v1/clients")).json()["data"][0]
        await api.post(
            "/api/v1/connections",
            json={"client_id": client["id"], "account_id": account["data"][0]["id"]},
        )
        await api.post(f"{base}/sandbox/control/users/alice/grants/revoke")

        def mails() -> list[str]:
            """The emails naming this client (the demo's own lapse is mailed on start too)."""
            found = (m.read_text() for m in (tmp_path / "data" / "outbox").glob("*.eml"))
            return [text for text in found if client["name"] in text]

        async def told() -> bool:
            return bool(mails())

        await _until("the lapse to be noticed and mailed", told)
        lapsed = (await api.get(f"/api/v1/authorizations/{authorization['id']}")).json()

    assert lapsed["status"] == "needs_reconnect"
    (text,) = mails()
    assert "admin@demo-agency.example.com" in text
