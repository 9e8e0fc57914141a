"""Call statistics: which user called which endpoint, and how many calls succeeded or failed."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.sandbox.conftest import CLIENT_ID, CLIENT_SECRET, OAuthDriver
from tether.sandbox import SandboxState
from tether.sandbox.state import CALL_KINDS


def _stats(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/control/stats")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _counts(ok: int = 0, failed: int = 0) -> dict[str, int]:
    return {"ok": ok, "failed": failed}


def _revoke(http: httpx.Client, token: str, secret: str = CLIENT_SECRET) -> httpx.Response:
    form = {"token": token, "client_id": CLIENT_ID, "client_secret": secret}
    return http.post("/oauth/revoke", data=form)


def test_stats_start_empty_with_every_kind_in_the_totals(http: httpx.Client) -> None:
    assert _stats(http) == {"users": {}, "totals": {kind: _counts() for kind in CALL_KINDS}}
    assert set(CALL_KINDS) == {
        "me",
        "accounts",
        "metrics",
        "token_refresh",
        "token_exchange",
        "revoke",
    }


def test_each_kind_is_counted_per_user_as_ok_or_failed(
    oauth: OAuthDriver, http: httpx.Client, sandbox: SandboxState
) -> None:
    tokens = oauth.tokens("alice")
    oauth.get("/api/v1/me", tokens["access_token"])
    oauth.get("/api/v1/me", tokens["access_token"])
    oauth.get("/api/v1/accounts", tokens["access_token"])
    oauth.get("/api/v1/accounts", tokens["access_token"], page_size="0")
    dates = {"start": "2024-01-01", "end": "2024-01-02"}
    assert oauth.get("/api/v1/accounts/999/metrics", tokens["access_token"], **dates).is_error
    oauth.refresh(tokens["refresh_token"])
    _revoke(http, tokens["refresh_token"], secret="wrong")
    _revoke(http, tokens["refresh_token"])
    oauth.refresh(tokens["refresh_token"])  # the grant is revoked by now
    http.get("/api/v1/me", headers={"X-Api-Key": sandbox.user("bob").api_key})

    stats = _stats(http)
    assert stats["users"]["alice"] == {
        "me": _counts(ok=2),
        "accounts": _counts(ok=1, failed=1),
        "metrics": _counts(failed=1),
        "token_refresh": _counts(ok=1, failed=1),
        "token_exchange": _counts(ok=1),
        "revoke": _counts(ok=1, failed=1),
    }
    assert stats["users"]["bob"]["me"] == _counts(ok=1)
    assert stats["totals"]["me"] == _counts(ok=3)
    assert sandbox.stats() == stats


def test_calls_of_unidentified_callers_count_only_in_the_totals(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    oauth.get("/api/v1/me", "sbx_at_unknown")
    http.get("/api/v1/accounts", headers={"X-Api-Key": "sbx_wrong"})
    oauth.refresh("sbx_rt_unknown")
    oauth.refresh(oauth.tokens("bob")["access_token"])  # not a refresh token: caller unknown
    code, _ = oauth.code("carol")
    oauth.exchange(code, verifier=None)  # carol's code, refused for lack of a verifier
    stats = _stats(http)
    assert list(stats["users"]) == ["bob", "carol"]
    assert stats["users"]["bob"]["token_refresh"] == _counts()
    assert stats["users"]["carol"]["token_exchange"] == _counts(failed=1)
    assert stats["totals"]["me"] == _counts(failed=1)
    assert stats["totals"]["accounts"] == _counts(failed=1)
    assert stats["totals"]["token_refresh"] == _counts(failed=2)


def test_consent_control_and_unknown_paths_are_not_counted(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    oauth.code("alice")
    http.get("/control/state")
    http.get("/api/v1/nothing-here")
    oauth.http.post("/oauth/token", data={"grant_type": "password"})
    assert _stats(http)["users"] == {}
    assert all(c == _counts() for c in _stats(http)["totals"].values())


def test_one_refresh_per_authorization_can_be_proved(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    grants = {name: oauth.tokens(name) for name in ("alice", "bob", "carol")}
    http.delete("/control/stats")
    for tokens in grants.values():
        oauth.refresh(tokens["refresh_token"])
        oauth.get("/api/v1/me", tokens["access_token"])
    stats = _stats(http)
    assert {name: c["token_refresh"]["ok"] for name, c in stats["users"].items()} == {
        "alice": 1,
        "bob": 1,
        "carol": 1,
    }
    assert all(c["me"] == _counts(ok=1) for c in stats["users"].values())
    assert stats["totals"]["token_exchange"] == _counts()


def test_delete_stats_and_reset_forget_every_call(
    oauth: OAuthDriver, http: httpx.Client, sandbox: SandboxState
) -> None:
    oauth.tokens()
    emptied = http.delete("/control/stats")
    assert emptied.status_code == 200
    assert emptied.json()["users"] == {}
    oauth.tokens()
    assert _stats(http)["totals"]["token_exchange"] == _counts(ok=1)
    http.post("/control/reset")
    assert _stats(http)["users"] == {}
    oauth.tokens()
    sandbox.reset_stats()
    assert sandbox.stats()["totals"]["token_exchange"] == _counts()


def test_concurrent_calls_are_all_counted(base_url: str, sandbox: SandboxState) -> None:
    api_key = sandbox.user("alice").api_key

    def call_many(_: int) -> None:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            for _ in range(25):
                client.get("/api/v1/me", headers={"X-Api-Key": api_key})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(call_many, range(8)))
    assert sandbox.stats()["users"]["alice"]["me"] == _counts(ok=200)


def test_recording_a_call_is_cheap(sandbox: SandboxState) -> None:
    users = [f"user{n}" for n in range(1000)]
    started = time.perf_counter()
    for n in range(100_000):
        sandbox.record_call("me", users[n % 1000], ok=n % 10 != 0)
    elapsed = time.perf_counter() - started
    assert sandbox.stats()["totals"]["me"] == _counts(ok=90_000, failed=10_000)
    # About a microsecond each; the bound leaves room for slow CI machines.
    assert elapsed < 2.0
