"""Faults scoped to some users: one provider user fails while the others stay healthy."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.sandbox.conftest import CLIENT_ID, CLIENT_SECRET, OAuthDriver, error_code
from tether.sandbox import SandboxState

NO_FAULTS = {"down": False, "throttle_retry_after": None, "slow_ms": 0}


def _me_by_key(http: httpx.Client, sandbox: SandboxState, username: str) -> httpx.Response:
    return http.get("/api/v1/me", headers={"X-Api-Key": sandbox.user(username).api_key})


def _put(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.put("/control/faults", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_down_user_gets_503_on_api_and_token_endpoint_while_others_are_served(
    oauth: OAuthDriver, http: httpx.Client, sandbox: SandboxState
) -> None:
    alice, bob = oauth.tokens("alice"), oauth.tokens("bob")
    alice_code, alice_verifier = oauth.code("alice")
    bob_code, bob_verifier = oauth.code("bob")
    _put(http, users=["alice"], down=True)

    for response in (
        oauth.get("/api/v1/me", alice["access_token"]),
        _me_by_key(http, sandbox, "alice"),
    ):
        assert (response.status_code, error_code(response)) == (503, "unavailable")
    refresh = oauth.refresh(alice["refresh_token"])
    assert (refresh.status_code, refresh.json()["error"]) == (503, "temporarily_unavailable")
    exchange = oauth.exchange(alice_code, alice_verifier)
    assert (exchange.status_code, exchange.json()["error"]) == (503, "temporarily_unavailable")

    assert oauth.get("/api/v1/accounts", bob["access_token"]).status_code == 200
    assert _me_by_key(http, sandbox, "bob").status_code == 200
    assert oauth.refresh(bob["refresh_token"]).status_code == 200
    assert oauth.exchange(bob_code, bob_verifier).status_code == 200


def test_a_throttled_user_gets_429_with_retry_after(
    oauth: OAuthDriver, http: httpx.Client, sandbox: SandboxState
) -> None:
    carol = oauth.tokens("carol")
    _put(http, users=["carol", "bob"], throttle_retry_after=12)
    api = oauth.get("/api/v1/me", carol["access_token"])
    assert (api.status_code, error_code(api), api.headers["retry-after"]) == (
        429,
        "rate_limited",
        "12",
    )
    refresh = oauth.refresh(carol["refresh_token"])
    assert (refresh.status_code, refresh.headers["retry-after"]) == (429, "12")
    assert _me_by_key(http, sandbox, "bob").status_code == 429
    assert _me_by_key(http, sandbox, "alice").status_code == 200


def test_a_slow_user_is_delayed_and_the_others_are_not(
    http: httpx.Client, sandbox: SandboxState
) -> None:
    _put(http, users=["alice"], slow_ms=500)
    started = time.monotonic()
    assert _me_by_key(http, sandbox, "alice").status_code == 200
    alice_took = time.monotonic() - started
    started = time.monotonic()
    assert _me_by_key(http, sandbox, "bob").status_code == 200
    bob_took = time.monotonic() - started
    assert alice_took >= 0.5
    assert bob_took < alice_took


def test_user_faults_add_to_the_global_ones(http: httpx.Client, sandbox: SandboxState) -> None:
    _put(http, throttle_retry_after=5)
    _put(http, users=["alice"], down=True)
    assert _me_by_key(http, sandbox, "alice").status_code == 503
    bob = _me_by_key(http, sandbox, "bob")
    assert (bob.status_code, bob.headers["retry-after"]) == (429, "5")
    _put(http, users=["carol"], throttle_retry_after=60)
    assert _me_by_key(http, sandbox, "carol").headers["retry-after"] == "60"


def test_bad_credentials_are_refused_as_such_despite_user_faults(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    _put(http, users=["alice", "bob", "carol"], down=True)
    response = oauth.get("/api/v1/me", "sbx_at_unknown")
    assert (response.status_code, error_code(response)) == (401, "invalid_token")


def test_revocation_is_not_subject_to_faults(oauth: OAuthDriver, http: httpx.Client) -> None:
    tokens = oauth.tokens("alice")
    _put(http, users=["alice"], down=True)
    form = {"token": tokens["access_token"], "client_id": CLIENT_ID}
    assert http.post("/oauth/revoke", data={**form, "client_secret": CLIENT_SECRET}).is_success


def test_faulted_calls_count_as_failed_for_that_user(
    oauth: OAuthDriver, http: httpx.Client, sandbox: SandboxState
) -> None:
    tokens = oauth.tokens("alice")
    _put(http, users=["alice"], down=True)
    oauth.get("/api/v1/me", tokens["access_token"])
    oauth.refresh(tokens["refresh_token"])
    _me_by_key(http, sandbox, "bob")
    users = sandbox.stats()["users"]
    assert users["alice"]["me"] == {"ok": 0, "failed": 1}
    assert users["alice"]["token_refresh"] == {"ok": 0, "failed": 1}
    assert users["bob"]["me"] == {"ok": 1, "failed": 0}


def test_get_faults_shows_global_and_per_user_faults(http: httpx.Client) -> None:
    assert http.get("/control/faults").json() == {"global": NO_FAULTS, "users": {}}
    _put(http, slow_ms=10)
    answer = _put(http, users=["bob", "alice"], down=True)
    expected_user = {**NO_FAULTS, "down": True}
    assert answer == {
        "global": {**NO_FAULTS, "slow_ms": 10},
        "users": {"alice": expected_user, "bob": expected_user},
    }
    assert http.get("/control/faults").json() == answer
    assert http.get("/control/state").json()["user_faults"] == answer["users"]


def test_user_fault_updates_are_partial_and_drop_users_back_to_no_faults(
    http: httpx.Client,
) -> None:
    _put(http, users=["alice"], down=True)
    after = _put(http, users=["alice"], throttle_retry_after=3)
    assert after["users"]["alice"] == {**NO_FAULTS, "down": True, "throttle_retry_after": 3}
    assert after["global"] == NO_FAULTS
    after = _put(http, users=["alice"], down=False, throttle_retry_after=None)
    assert after["users"] == {}


def test_delete_and_reset_clear_user_faults_too(http: httpx.Client) -> None:
    _put(http, users=["alice"], down=True)
    _put(http, down=True)
    assert http.delete("/control/faults").json() == NO_FAULTS
    assert http.get("/control/faults").json() == {"global": NO_FAULTS, "users": {}}
    _put(http, users=["bob"], slow_ms=1)
    http.post("/control/reset")
    assert http.get("/control/faults").json()["users"] == {}


def test_user_faults_name_existing_users(http: httpx.Client) -> None:
    unknown = http.put("/control/faults", json={"users": ["alice", "nobody"], "down": True})
    assert (unknown.status_code, error_code(unknown)) == (404, "not_found")
    assert http.get("/control/faults").json()["users"] == {}
    empty = http.put("/control/faults", json={"users": [], "down": True})
    assert (empty.status_code, error_code(empty)) == (400, "invalid_request")


def test_python_api_sets_user_faults(oauth: OAuthDriver, sandbox: SandboxState) -> None:
    own = sandbox.set_user_faults(["carol"], down=True)
    assert own["carol"].down is True
    assert sandbox.faults.down is False
    assert sandbox.faults_for("carol").down is True
    assert sandbox.faults_for("alice").down is False
    assert oauth.get("/api/v1/me", oauth.tokens("alice")["access_token"]).status_code == 200
