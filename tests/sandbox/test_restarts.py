"""`tether serve` stopped and started again on the same data folder: the sandbox mounted in it
still knows every grant, so authorizations made against it stay active."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.builders import connect_sandbox
from tests.fixtures.embedded import free_port, serving


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
    data, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    # Without the scheduler, only the check below uses the grant after the restart.
    quiet = {"TETHER_BACKGROUND": "false"}
    with serving(data, port=port, env=quiet) as running:
        process, token = running.process, running.demo_login()[2]
        authorization = await _connected(base, token)
        # Only the refresh token is left working: after the restart Tether has to refresh.
        async with httpx.AsyncClient(base_url=f"{base}/sandbox/control") as control:
            expired = await control.post("/users/alice/grants/expire-access")
        assert expired.status_code == 200, expired.text
        process.send_signal(signal.SIGINT)  # Ctrl-C
        await asyncio.to_thread(process.wait, 30)

    with serving(data, port=port, env=quiet):
        checked = await _checked(base, token, authorization["id"])

    assert checked["status"] == "active", checked


async def test_a_sandbox_authorization_stays_active_after_tether_is_killed_soon_after_it(
    tmp_path: Path,
) -> None:
    data, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    with serving(data, port=port) as running:
        process, token = running.process, running.demo_login()[2]
        authorization = await _connected(base, token)
        await asyncio.sleep(2)  # the keeper saves within a second of a change
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 30)

    with serving(data, port=port):
        checked = await _checked(base, token, authorization["id"])

    assert checked["status"] == "active", checked
