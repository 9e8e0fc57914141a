"""The sandbox's world saved to a file and loaded back: what Tether's mounted sandbox does
across restarts."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.server import serve
from tests.sandbox.conftest import OAuthDriver, error_code, location_params, new_pkce
from tether.sandbox import SandboxState, create_app, store

NEW_PASSWORD = "a-new-password-for-bob"


@dataclass
class Reloaded:
    """A world saved and loaded into a new state, served on its own port."""

    before: SandboxState
    after: SandboxState
    oauth: OAuthDriver
    alice: dict[str, Any]
    manager_id: str


@pytest.fixture
def reloaded(sandbox: SandboxState, oauth: OAuthDriver, tmp_path: Path) -> Iterator[Reloaded]:
    """Alice holds a grant and a manager, Bob changed his password, Carol's calls are down."""
    alice = oauth.tokens("alice")
    manager = sandbox.add_manager("alice", "Acme Manager", 2)
    sandbox.change_password("bob", NEW_PASSWORD)
    sandbox.set_user_faults(["carol"], down=True)
    store.save(sandbox, tmp_path / "sandbox.json")

    after = store.load(tmp_path / "sandbox.json")
    with serve(create_app(after)) as url, httpx.Client(base_url=url, timeout=10) as http:
        yield Reloaded(sandbox, after, OAuthDriver(http), alice, manager.account.id)


def test_a_reloaded_world_refreshes_the_refresh_token_issued_before(reloaded: Reloaded) -> None:
    refreshed = reloaded.oauth.refresh(reloaded.alice["refresh_token"])

    assert refreshed.status_code == 200, refreshed.text
    me = reloaded.oauth.get("/api/v1/me", refreshed.json()["access_token"])
    assert me.json()["username"] == "alice"


def test_a_reloaded_world_answers_the_access_token_issued_before(reloaded: Reloaded) -> None:
    me = reloaded.oauth.get("/api/v1/me", reloaded.alice["access_token"])

    assert me.status_code == 200, me.text
    assert me.json()["username"] == "alice"


def test_a_reloaded_world_keeps_a_changed_password(reloaded: Reloaded) -> None:
    _, challenge = new_pkce()
    with_new = reloaded.oauth.consent(challenge, "bob", password=NEW_PASSWORD)
    with_old = reloaded.oauth.consent(challenge, "bob", password="bob-password")

    assert "code" in location_params(with_new)
    assert with_old.status_code == 401
    assert "Wrong username or password." in with_old.text


def test_a_reloaded_world_keeps_managers_accounts_and_switches(reloaded: Reloaded) -> None:
    carol_key = reloaded.after.user("carol").api_key
    carol = reloaded.oauth.http.get("/api/v1/me", headers={"X-Api-Key": carol_key})
    accounts = reloaded.oauth.get("/api/v1/accounts", reloaded.alice["access_token"]).json()

    assert (carol.status_code, error_code(carol)) == (503, "unavailable")
    assert reloaded.after.clients_of(reloaded.manager_id) == reloaded.before.clients_of(
        reloaded.manager_id
    )
    assert reloaded.manager_id in [account["id"] for account in accounts["accounts"]]
    assert reloaded.after.summary() == reloaded.before.summary()


def test_the_saved_file_is_readable_only_by_its_owner(
    sandbox: SandboxState, tmp_path: Path
) -> None:
    store.save(sandbox, tmp_path / "sandbox.json")

    assert stat.S_IMODE((tmp_path / "sandbox.json").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["sandbox.json"]  # no temporary file left


def _malformed_with_a_password() -> str:
    saved = json.loads(store.dump(SandboxState.seeded()))
    saved["state"]["users"][0]["password"] = "do-not-log-me"
    saved["state"]["users"][0]["reach"] = ["no-such-account"]
    return json.dumps(saved)


UNREADABLE = {
    "not JSON": lambda: '{"format": 1, "state": {',
    "an older format": lambda: json.dumps({"format": 0, "users": []}),
    "malformed": _malformed_with_a_password,
}


@pytest.mark.parametrize("content", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_file_is_moved_aside_and_the_world_seeded_afresh(
    content: Callable[[], str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sandbox.json"
    path.write_text(content())

    with caplog.at_level(logging.WARNING, logger="tether.sandbox.store"):
        loaded = store.load(path)

    assert loaded.summary() == SandboxState.seeded().summary()
    assert loaded.authenticate("alice", "alice-password") is not None
    assert not path.exists()
    assert (tmp_path / "sandbox.json.unreadable").read_text() == content()
    (warning,) = caplog.records
    assert "sandbox.json.unreadable" in warning.getMessage()
    assert "freshly seeded" in warning.getMessage()
    assert "do-not-log-me" not in caplog.text


def test_without_a_saved_file_the_world_is_freshly_seeded(tmp_path: Path) -> None:
    loaded = store.load(tmp_path / "sandbox.json")

    assert loaded.summary() == SandboxState.seeded().summary()
    assert list(tmp_path.iterdir()) == []


def test_the_keeper_writes_only_when_the_world_changed(tmp_path: Path) -> None:
    keeper = store.Keeper.opened(tmp_path / "sandbox.json")

    first = keeper.save_if_changed()
    idle = keeper.save_if_changed()
    keeper.state.summary()  # a read changes nothing
    read = keeper.save_if_changed()
    keeper.state.set_faults(down=True)
    changed = keeper.save_if_changed()

    assert (first, idle, read, changed) == (True, False, False, True)
    assert store.load(tmp_path / "sandbox.json").faults.down


def _saved(path: Path, check: Callable[[SandboxState], bool]) -> bool:
    return path.exists() and check(store.load(path))


async def _until_saved(path: Path, check: Callable[[SandboxState], bool]) -> None:
    deadline = time.monotonic() + 10
    while not await asyncio.to_thread(_saved, path, check):
        assert time.monotonic() < deadline, "the change was not saved"
        await asyncio.sleep(0.02)


async def test_a_running_keeper_saves_a_change_made_on_the_state_without_a_request(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sandbox.json"
    keeper = store.Keeper(SandboxState.seeded(), path, interval=0.05)

    async with keeper.running():
        keeper.state.change_password("alice", NEW_PASSWORD)
        await _until_saved(
            path, lambda saved: saved.authenticate("alice", NEW_PASSWORD) is not None
        )
        keeper.state.reset()
        await _until_saved(
            path, lambda saved: saved.authenticate("alice", "alice-password") is not None
        )


async def test_a_reset_through_the_control_api_resets_the_saved_world(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    keeper = store.Keeper(SandboxState.seeded(), path, interval=0.05)
    keeper.state.set_faults(throttle_retry_after=30)
    keeper.state.add_user("dave", "dave-password")
    transport = httpx.ASGITransport(app=create_app(keeper.state))

    async with (
        keeper.running(),
        httpx.AsyncClient(transport=transport, base_url="http://sbx") as http,
    ):
        await _until_saved(path, lambda saved: saved.faults.throttle_retry_after == 30)
        reset = await http.post("/control/reset")
        assert reset.status_code == 200
        await _until_saved(path, lambda saved: saved.faults.throttle_retry_after is None)

    saved = store.load(path)
    assert saved.summary() == SandboxState.seeded().summary()
    assert "dave" not in [user.username for user in saved.users.values()]


async def test_stopping_the_keeper_saves_the_last_change(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    keeper = store.Keeper(SandboxState.seeded(), path, interval=3600)

    async with keeper.running():
        keeper.state.update_settings(rotate_refresh_tokens=True)

    assert store.load(path).settings.rotate_refresh_tokens
