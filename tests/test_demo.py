"""The demo organization an embedded Tether seeds on its first start."""

import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Tether
from tests.fixtures.builders import _api, consent
from tether import demo
from tether.db import utcnow
from tether.demo import lapse
from tether.sandbox.state import SandboxState


async def _seeded(tether: Tether) -> demo.DemoLogin:
    async with tether.sessions() as session:
        login = await demo.seed(session, tether.settings)
        await session.commit()
    assert login is not None
    return login


async def test_the_demo_is_seeded_once_with_a_working_login(tether: Tether, tmp_path: Path) -> None:
    login = await _seeded(tether)
    async with tether.sessions() as session:
        again = await demo.seed(session, tether.settings)

    assert again is None
    saved = demo.save(login, tmp_path)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert login.token in saved.read_text()
    assert login.password not in repr(login)


def test_the_demo_clients_are_the_companies_of_the_sandbox_accounts() -> None:
    world = SandboxState.seeded()
    companies = {account.name.split(" — ")[0] for account in world.accounts.values()}

    assert set(demo.CLIENTS) == companies


async def _get(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await api.get(f"/api/v1{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_demo_starts_with_a_lapse_whose_days_come_back_on_reconnecting(
    tether: Tether,
) -> None:
    login = await _seeded(tether)
    api = _api(tether.base_url, login.token)

    lapsed = (await _get(api, "/connections", status="needs_reconnect"))["data"]
    assert [(c["client_name"], c["account_name"]) for c in lapsed] == [
        (lapse.CLIENT, lapse.ACCOUNT)
    ]
    connection = lapsed[0]
    incidents = (await _get(api, "/incidents", state="open"))["data"]
    today = utcnow().date()
    assert [i["opened_at"][:10] for i in incidents] == [str(today - timedelta(days=4))]
    (coverage,) = (await _get(api, "/coverage"))["data"]
    assert coverage["missing"] == [
        {"start": str(today - timedelta(days=4)), "end": str(today), "days": 5, "in_incident": True}
    ]
    assert coverage["days_loaded"] == tether.settings.sync_history_days - 5

    started = await api.post(f"/api/v1/authorizations/{connection['authorization_id']}/reconnect")
    callback = await consent(started.json()["authorize_url"], lapse.USERNAME)
    async with httpx.AsyncClient(timeout=30) as browser:
        done = await browser.get(callback, headers={"Accept": "application/json"})
    assert done.status_code == 200, done.text
    loaded = await tether.sync(api, connection["id"])
    assert loaded["outcome"] == "synced", loaded

    (coverage,) = (await _get(api, "/coverage"))["data"]
    assert (coverage["status"], coverage["missing"]) == ("active", [])
    assert coverage["days_loaded"] == tether.settings.sync_history_days
    assert (await _get(api, "/incidents", state="open"))["data"] == []
