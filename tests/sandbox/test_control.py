"""The control API: every switch and the error it makes the platform produce."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.sandbox.conftest import CLIENT_ID, OAuthDriver, error_code, new_pkce
from tether.sandbox import SandboxState


def _grant_id(http: httpx.Client, username: str = "alice") -> str:
    grants = http.get("/control/grants", params={"username": username}).json()
    grant_id: str = grants[-1]["id"]
    return grant_id


def _me(oauth: OAuthDriver, tokens: dict[str, Any]) -> httpx.Response:
    return oauth.get("/api/v1/me", tokens["access_token"])


def test_state_summary_reports_counts_settings_and_faults(http: httpx.Client) -> None:
    summary = http.get("/control/state").json()
    assert (summary["users"], summary["accounts"], summary["grants"]) == (3, 12, 0)
    assert summary["settings"]["access_token_lifetime"] == 3600
    assert summary["faults"] == {"down": False, "throttle_retry_after": None, "slow_ms": 0}


def test_seeded_world_is_the_same_for_the_same_seed() -> None:
    first, second = SandboxState.seeded(3), SandboxState.seeded(3)
    assert first.accounts == second.accounts
    assert [u.username for u in first.users.values()] == ["alice", "bob", "carol"]
    assert all(u.email.endswith("@sandbox.test") for u in first.users.values())


def test_reset_reseeds_and_clears_grants_faults_and_settings(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    oauth.tokens()
    http.post("/control/users", json=[{"username": "zed", "password": "pw"}])
    http.put("/control/faults", json={"down": True})
    http.put("/control/settings", json={"refreshable": False})
    summary = http.post("/control/reset").json()
    assert (summary["users"], summary["grants"]) == (3, 0)
    assert summary["faults"]["down"] is False
    assert summary["settings"]["refreshable"] is True


def test_bulk_created_users_and_accounts_can_use_the_api(http: httpx.Client) -> None:
    users = http.post(
        "/control/users",
        json=[
            {"username": "erin", "password": "pw", "name": "Erin Moss", "accounts": ["1000001"]},
            {"username": "finn", "password": "pw"},
        ],
    )
    assert users.status_code == 201
    accounts = http.post(
        "/control/accounts",
        json=[{"name": "Fjord Ferries — Search", "currency": "NOK", "users": ["erin", "finn"]}],
    ).json()
    erin = http.get("/control/users/erin").json()
    assert erin["accounts"] == ["1000001", accounts[0]["id"]]
    listing = http.get("/api/v1/accounts", headers={"X-Api-Key": erin["api_key"]}).json()
    assert [a["currency"] for a in listing["accounts"]] == ["CAD", "NOK"]
    assert "password" not in erin


def test_bulk_creation_is_all_or_nothing(http: httpx.Client) -> None:
    response = http.post(
        "/control/users",
        json=[{"username": "gus", "password": "pw"}, {"username": "alice", "password": "pw"}],
    )
    assert (response.status_code, error_code(response)) == (409, "conflict")
    assert http.get("/control/users/gus").status_code == 404
    unknown = http.post("/control/accounts", json=[{"name": "X", "users": ["nobody"]}])
    assert (unknown.status_code, error_code(unknown)) == (404, "not_found")


def test_bulk_helpers_create_many_users_and_accounts_quickly(sandbox: SandboxState) -> None:
    started = time.monotonic()
    sandbox.create_users(20_000, prefix="load")
    big = sandbox.add_user("big", "pw")
    sandbox.create_accounts(10_000, users=["big"])
    assert len(sandbox.users) == 20_004
    assert len(sandbox.reachable_account_ids(big.id)) == 10_000
    assert time.monotonic() - started < 5


def test_grants_listing_shows_grants_without_tokens(oauth: OAuthDriver, http: httpx.Client) -> None:
    tokens = oauth.tokens()
    listing = http.get("/control/grants", params={"username": "alice"})
    (grant,) = listing.json()
    assert grant["username"] == "alice"
    assert grant["revoked_reason"] is None
    assert {"id", "created_at", "access_expires_at", "refresh_expires_at"} <= grant.keys()
    assert tokens["access_token"] not in listing.text
    assert tokens["refresh_token"] not in listing.text


def test_expire_makes_api_say_token_expired_and_refresh_fail(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    tokens = oauth.tokens()
    assert http.post(f"/control/grants/{_grant_id(http)}/expire").status_code == 200
    api = _me(oauth, tokens)
    assert (api.status_code, error_code(api)) == (401, "token_expired")
    refresh = oauth.refresh(tokens["refresh_token"]).json()
    assert refresh["error"] == "invalid_grant"
    assert "expired" in refresh["error_description"]


def test_expire_access_then_refresh_recovers(oauth: OAuthDriver, http: httpx.Client) -> None:
    tokens = oauth.tokens()
    http.post(f"/control/grants/{_grant_id(http)}/expire-access")
    assert error_code(_me(oauth, tokens)) == "token_expired"
    renewed = oauth.refresh(tokens["refresh_token"])
    assert renewed.status_code == 200
    assert _me(oauth, renewed.json()).status_code == 200


def test_revoke_makes_api_say_token_revoked(oauth: OAuthDriver, http: httpx.Client) -> None:
    tokens = oauth.tokens()
    grant = http.post(f"/control/grants/{_grant_id(http)}/revoke").json()
    assert grant["revoked_reason"] == "token_revoked"
    api = _me(oauth, tokens)
    assert (api.status_code, error_code(api)) == (401, "token_revoked")


def test_password_change_revokes_grants_as_password_changed(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    tokens = oauth.tokens()
    bob = oauth.tokens("bob")
    http.post("/control/users/alice/password", json={"password": "fresh-password"})
    api = _me(oauth, tokens)
    assert (api.status_code, error_code(api)) == (401, "password_changed")
    refresh = oauth.refresh(tokens["refresh_token"]).json()
    assert refresh["error"] == "invalid_grant"
    assert "password" in refresh["error_description"]
    assert _me(oauth, bob).status_code == 200
    _, challenge = new_pkce()
    assert oauth.consent(challenge).status_code == 401
    assert oauth.consent(challenge, password="fresh-password").status_code == 302


def test_user_wide_actions_hit_every_live_grant_of_that_user_only(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    first, second, bob = oauth.tokens(), oauth.tokens(), oauth.tokens("bob")
    hit = http.post("/control/users/alice/grants/revoke").json()
    assert len(hit) == 2
    assert error_code(_me(oauth, first)) == error_code(_me(oauth, second)) == "token_revoked"
    assert _me(oauth, bob).status_code == 200
    http.post("/control/users/bob/grants/expire-access")
    assert error_code(_me(oauth, bob)) == "token_expired"


def test_a_token_names_the_one_grant_to_act_on(oauth: OAuthDriver, http: httpx.Client) -> None:
    first, second = oauth.tokens(), oauth.tokens()

    hit = http.post("/control/grants/holding/revoke", json={"token": first["refresh_token"]})
    again = http.post("/control/grants/holding/revoke", json={"token": first["access_token"]})

    assert (hit.json()["was_live"], again.json()["was_live"]) == (True, False)
    assert first["refresh_token"] not in hit.text  # the grant is described, no token shown
    assert error_code(_me(oauth, first)) == "token_revoked"
    assert _me(oauth, second).status_code == 200
    unknown = http.post("/control/grants/holding/revoke", json={"token": "sbx_rt_unknown"})
    assert (unknown.status_code, error_code(unknown)) == (404, "not_found")


def test_removed_access_gives_403_for_that_account_only_until_restored(
    http: httpx.Client, sandbox: SandboxState
) -> None:
    headers = {"X-Api-Key": sandbox.user("alice").api_key}
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    params = {"start": yesterday, "end": yesterday}
    assert http.delete("/control/users/alice/accounts/1000002").status_code == 200
    lost = http.get("/api/v1/accounts/1000002/metrics", params=params, headers=headers)
    assert (lost.status_code, error_code(lost)) == (403, "access_removed")
    assert "1000002" in lost.json()["error"]["message"]
    kept = http.get("/api/v1/accounts/1000001/metrics", params=params, headers=headers)
    assert kept.status_code == 200
    listed = http.get("/api/v1/accounts", headers=headers).json()["accounts"]
    assert "1000002" not in [a["id"] for a in listed]
    assert http.put("/control/users/alice/accounts/1000002").status_code == 200
    back = http.get("/api/v1/accounts/1000002/metrics", params=params, headers=headers)
    assert back.status_code == 200


def test_down_fault_gives_503_on_api_and_token_endpoint_but_not_consent_or_control(
    oauth: OAuthDriver, http: httpx.Client, sandbox: SandboxState
) -> None:
    code, verifier = oauth.code()
    faults = http.put("/control/faults", json={"down": True}).json()
    assert faults["down"] is True
    api = http.get("/api/v1/me", headers={"X-Api-Key": sandbox.user("alice").api_key})
    assert (api.status_code, error_code(api)) == (503, "unavailable")
    assert api.json()["error"]["message"] == "Sandbox Ads is temporarily unavailable."
    token = oauth.exchange(code, verifier)
    assert (token.status_code, token.json()["error"]) == (503, "temporarily_unavailable")
    _, challenge = new_pkce()
    page = http.get("/oauth/authorize", params=oauth.authorize_params(challenge))
    assert page.status_code == 200
    assert http.get("/control/state").status_code == 200


def test_throttle_fault_gives_429_with_retry_after(
    oauth: OAuthDriver, http: httpx.Client, sandbox: SandboxState
) -> None:
    tokens = oauth.tokens()
    http.put("/control/faults", json={"throttle_retry_after": 30})
    api = _me(oauth, tokens)
    assert (api.status_code, error_code(api)) == (429, "rate_limited")
    assert api.headers["retry-after"] == "30"
    refresh = oauth.refresh(tokens["refresh_token"])
    assert (refresh.status_code, refresh.headers["retry-after"]) == (429, "30")
    http.put("/control/faults", json={"throttle_retry_after": None})
    assert _me(oauth, tokens).status_code == 200


def test_slow_fault_delays_answers_by_at_least_the_delay(
    http: httpx.Client, sandbox: SandboxState
) -> None:
    http.put("/control/faults", json={"slow_ms": 300})
    started = time.monotonic()
    response = http.get("/api/v1/me", headers={"X-Api-Key": sandbox.user("alice").api_key})
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fault_updates_are_partial_and_delete_clears_them(http: httpx.Client) -> None:
    http.put("/control/faults", json={"down": True})
    after = http.put("/control/faults", json={"slow_ms": 5}).json()
    assert after == {"down": True, "throttle_retry_after": None, "slow_ms": 5}
    cleared = http.delete("/control/faults").json()
    assert cleared == {"down": False, "throttle_retry_after": None, "slow_ms": 0}


def test_settings_updates_are_partial_and_validated(http: httpx.Client) -> None:
    settings = http.put("/control/settings", json={"rotate_refresh_tokens": True}).json()
    assert settings["rotate_refresh_tokens"] is True
    assert settings["access_token_lifetime"] == 3600
    bad = http.put("/control/settings", json={"access_token_lifetime": 0})
    assert (bad.status_code, error_code(bad)) == (400, "invalid_request")


def test_refresh_token_lifetime_setting_expires_refresh_tokens(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    http.put("/control/settings", json={"refresh_token_lifetime": 7 * 86400})
    tokens = oauth.tokens()
    assert tokens["refresh_token_expires_in"] == 7 * 86400


@pytest.mark.parametrize(
    "path",
    [
        "/control/grants/g_missing/expire",
        "/control/grants/g_missing/revoke",
        "/control/users/nobody/grants/revoke",
        "/control/users/nobody/password",
    ],
)
def test_unknown_ids_are_404_json_errors(http: httpx.Client, path: str) -> None:
    response = http.post(path, json={"password": "x"})
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_revoking_via_rfc7009_shows_up_in_the_grant_listing(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    tokens = oauth.tokens()
    form = {"token": tokens["access_token"], "client_id": CLIENT_ID}
    form["client_secret"] = "tether-sandbox-secret"
    http.post("/oauth/revoke", data=form)
    assert http.get("/control/grants").json()[0]["revoked_reason"] == "token_revoked"
