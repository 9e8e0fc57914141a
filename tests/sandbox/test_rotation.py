"""Refresh-token rotation with a reuse grace, and the optional reuse detection."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.conftest import OAuthDriver, error_code
from tether.sandbox import SandboxState

REPLACED = "This refresh token was already rotated and replaced."


@pytest.fixture(autouse=True)
def _rotating(sandbox: SandboxState) -> None:
    sandbox.update_settings(rotate_refresh_tokens=True)


def _refreshed(oauth: OAuthDriver, refresh_token: str) -> dict[str, Any]:
    response = oauth.refresh(refresh_token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _refused(oauth: OAuthDriver, refresh_token: str) -> str:
    response = oauth.refresh(refresh_token)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    description: str = response.json()["error_description"]
    return description


def test_a_rotating_refresh_returns_a_new_refresh_token(oauth: OAuthDriver) -> None:
    tokens = oauth.tokens()
    rotated = _refreshed(oauth, tokens["refresh_token"])
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert oauth.get("/api/v1/me", rotated["access_token"]).status_code == 200


def test_the_old_refresh_token_works_again_while_its_successor_is_unused(
    oauth: OAuthDriver,
) -> None:
    old = oauth.tokens()["refresh_token"]
    lost = _refreshed(oauth, old)  # the client crashed before saving this answer
    retry = _refreshed(oauth, old)
    assert retry["refresh_token"] not in (old, lost["refresh_token"])
    # The unused successor is discarded in favour of the newest one.
    assert _refused(oauth, lost["refresh_token"]) == REPLACED
    assert _refreshed(oauth, retry["refresh_token"])["refresh_token"] != retry["refresh_token"]


def test_using_the_successor_refresh_token_retires_the_old_one(oauth: OAuthDriver) -> None:
    old = oauth.tokens()["refresh_token"]
    successor = _refreshed(oauth, old)["refresh_token"]
    newest = _refreshed(oauth, successor)["refresh_token"]
    assert _refused(oauth, old) == REPLACED
    # The successor in its turn stays usable until `newest` is used.
    assert _refreshed(oauth, successor)["refresh_token"] not in (old, successor, newest)


def test_using_an_access_token_of_the_successor_retires_the_old_refresh_token(
    oauth: OAuthDriver,
) -> None:
    old = oauth.tokens()["refresh_token"]
    rotated = _refreshed(oauth, old)
    assert oauth.get("/api/v1/accounts", rotated["access_token"]).status_code == 200
    assert _refused(oauth, old) == REPLACED
    assert oauth.refresh(rotated["refresh_token"]).status_code == 200


def test_access_tokens_older_than_the_successor_do_not_end_the_grace(
    oauth: OAuthDriver,
) -> None:
    tokens = oauth.tokens()
    lost = _refreshed(oauth, tokens["refresh_token"])
    retry = _refreshed(oauth, tokens["refresh_token"])
    # The original access token, and one issued with the discarded successor, still work...
    assert oauth.get("/api/v1/me", tokens["access_token"]).status_code == 200
    assert oauth.get("/api/v1/me", lost["access_token"]).status_code == 200
    # ...but prove nothing about the newest refresh token, so the old one is still honoured.
    assert _refreshed(oauth, tokens["refresh_token"])["refresh_token"] != retry["refresh_token"]


def test_grant_listing_shows_whether_a_replaced_refresh_token_is_in_grace(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    tokens = oauth.tokens()
    assert http.get("/control/grants").json()[0]["refresh_grace"] is False
    rotated = _refreshed(oauth, tokens["refresh_token"])
    assert http.get("/control/grants").json()[0]["refresh_grace"] is True
    oauth.get("/api/v1/me", rotated["access_token"])
    assert http.get("/control/grants").json()[0]["refresh_grace"] is False


def test_without_rotation_the_refresh_token_never_changes(
    oauth: OAuthDriver, sandbox: SandboxState
) -> None:
    sandbox.update_settings(rotate_refresh_tokens=False)
    tokens = oauth.tokens()
    for _ in range(3):
        assert (
            _refreshed(oauth, tokens["refresh_token"])["refresh_token"] == tokens["refresh_token"]
        )


def test_a_refresh_token_in_grace_after_rotation_is_switched_off_gets_the_current_one(
    oauth: OAuthDriver, sandbox: SandboxState
) -> None:
    old = oauth.tokens()["refresh_token"]
    successor = _refreshed(oauth, old)["refresh_token"]
    sandbox.update_settings(rotate_refresh_tokens=False)
    assert _refreshed(oauth, old)["refresh_token"] == successor
    assert _refreshed(oauth, successor)["refresh_token"] == successor
    assert _refused(oauth, old) == REPLACED


def test_reuse_detection_is_off_by_default_and_settable(http: httpx.Client) -> None:
    assert http.get("/control/state").json()["settings"]["reuse_detection"] is False
    settings = http.put("/control/settings", json={"reuse_detection": True}).json()
    assert settings["reuse_detection"] is True


def test_reuse_detection_revokes_the_grant_when_a_replaced_token_comes_back(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    http.put("/control/settings", json={"reuse_detection": True})
    tokens = oauth.tokens()
    successor = _refreshed(oauth, tokens["refresh_token"])
    newest = _refreshed(oauth, successor["refresh_token"])
    assert _refused(oauth, tokens["refresh_token"]).startswith(REPLACED)
    assert http.get("/control/grants").json()[0]["revoked_reason"] == "token_revoked"
    assert _refused(oauth, newest["refresh_token"]) == "The grant was revoked."
    api = oauth.get("/api/v1/me", newest["access_token"])
    assert (api.status_code, error_code(api)) == (401, "token_revoked")


def test_reuse_detection_spares_a_refresh_token_still_in_grace(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    http.put("/control/settings", json={"reuse_detection": True})
    old = oauth.tokens()["refresh_token"]
    _refreshed(oauth, old)
    retry = _refreshed(oauth, old)
    assert http.get("/control/grants").json()[0]["revoked_reason"] is None
    assert oauth.get("/api/v1/me", retry["access_token"]).status_code == 200


def test_reuse_detection_also_catches_a_discarded_successor(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    http.put("/control/settings", json={"reuse_detection": True})
    old = oauth.tokens()["refresh_token"]
    discarded = _refreshed(oauth, old)["refresh_token"]
    _refreshed(oauth, old)
    assert _refused(oauth, discarded).startswith(REPLACED)
    assert http.get("/control/grants").json()[0]["revoked_reason"] == "token_revoked"


def test_without_reuse_detection_a_replaced_token_leaves_the_grant_alive(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    old = oauth.tokens()["refresh_token"]
    successor = _refreshed(oauth, old)["refresh_token"]
    _refreshed(oauth, successor)
    assert _refused(oauth, old) == REPLACED
    assert http.get("/control/grants").json()[0]["revoked_reason"] is None
