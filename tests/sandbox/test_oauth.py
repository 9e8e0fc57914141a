"""OAuth 2.0 + PKCE behaviour of Sandbox Ads, driven over real HTTP."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import time_machine

from tests.sandbox.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    OAuthDriver,
    error_code,
    location_params,
    new_pkce,
)
from tether.sandbox import SandboxState


def test_authorize_page_shows_consent_form_carrying_every_parameter(oauth: OAuthDriver) -> None:
    _, challenge = new_pkce()
    response = oauth.http.get("/oauth/authorize", params=oauth.authorize_params(challenge))
    assert response.status_code == 200
    page = response.text
    assert "Sandbox Ads" in page
    assert "<strong>tether</strong>" in page
    assert "ads.read" in page
    assert 'name="username"' in page
    assert 'name="password"' in page
    assert 'value="allow"' in page
    assert 'value="deny"' in page
    assert f'name="code_challenge" value="{challenge}"' in page
    assert 'name="state" value="st-123"' in page
    assert 'action="authorize"' in page


def test_authorize_page_escapes_parameters(oauth: OAuthDriver) -> None:
    _, challenge = new_pkce()
    params = oauth.authorize_params(challenge, state='"><script>x</script>')
    page = oauth.http.get("/oauth/authorize", params=params).text
    assert "<script>x</script>" not in page


def test_authorize_unknown_client_gets_400_page_not_redirect(oauth: OAuthDriver) -> None:
    _, challenge = new_pkce()
    params = oauth.authorize_params(challenge, client_id="stranger")
    response = oauth.http.get("/oauth/authorize", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "stranger" in response.text


def test_authorize_without_redirect_uri_gets_400_page(oauth: OAuthDriver) -> None:
    _, challenge = new_pkce()
    params = oauth.authorize_params(challenge)
    del params["redirect_uri"]
    response = oauth.http.get("/oauth/authorize", params=params)
    assert response.status_code == 400
    assert "redirect_uri" in response.text


def test_authorize_without_code_challenge_redirects_invalid_request(oauth: OAuthDriver) -> None:
    params = oauth.authorize_params("")
    answer = location_params(oauth.http.get("/oauth/authorize", params=params))
    assert answer["error"] == "invalid_request"
    assert answer["state"] == "st-123"
    assert "code_challenge" in answer["error_description"]


def test_authorize_with_plain_method_redirects_invalid_request(oauth: OAuthDriver) -> None:
    _, challenge = new_pkce()
    params = oauth.authorize_params(challenge, code_challenge_method="plain")
    answer = location_params(oauth.http.get("/oauth/authorize", params=params))
    assert answer["error"] == "invalid_request"


def test_authorize_with_malformed_challenge_redirects_invalid_request(oauth: OAuthDriver) -> None:
    params = oauth.authorize_params("too-short")
    answer = location_params(oauth.http.get("/oauth/authorize", params=params))
    assert answer["error"] == "invalid_request"


def test_authorize_with_token_response_type_redirects_unsupported(oauth: OAuthDriver) -> None:
    _, challenge = new_pkce()
    params = oauth.authorize_params(challenge, response_type="token")
    answer = location_params(oauth.http.get("/oauth/authorize", params=params))
    assert answer["error"] == "unsupported_response_type"


def test_full_flow_reaches_me_accounts_and_metrics(oauth: OAuthDriver) -> None:
    verifier, challenge = new_pkce()
    answer = location_params(oauth.consent(challenge))
    assert answer["state"] == "st-123"
    response = oauth.exchange(answer["code"], verifier)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["scope"] == "ads.read"
    assert tokens["refresh_token"]
    me = oauth.get("/api/v1/me", tokens["access_token"]).json()
    assert me == {
        "id": "u_alice",
        "username": "alice",
        "name": "Alice Martin",
        "email": "alice@sandbox.test",
    }
    accounts = oauth.get("/api/v1/accounts", tokens["access_token"]).json()["accounts"]
    assert len(accounts) == 9
    end = datetime.now(UTC).date()
    start = end - timedelta(days=6)
    metrics = oauth.get(
        f"/api/v1/accounts/{accounts[0]['id']}/metrics",
        tokens["access_token"],
        start=start.isoformat(),
        end=end.isoformat(),
    )
    assert metrics.status_code == 200
    assert len(metrics.json()["days"]) == 7


def test_deny_redirects_access_denied_with_state(oauth: OAuthDriver) -> None:
    _, challenge = new_pkce()
    answer = location_params(oauth.consent(challenge, decision="deny", password=""))
    assert answer["error"] == "access_denied"
    assert answer["state"] == "st-123"
    assert answer["error_description"]
    assert "code" not in answer


def test_wrong_password_rerenders_page_with_401_and_issues_nothing(
    oauth: OAuthDriver, sandbox: SandboxState
) -> None:
    _, challenge = new_pkce()
    response = oauth.consent(challenge, password="guess")
    assert response.status_code == 401
    assert "location" not in response.headers
    assert "Wrong username or password" in response.text
    assert f'name="code_challenge" value="{challenge}"' in response.text
    assert sandbox.grants == {}


def test_redirect_keeps_query_parameters_already_in_redirect_uri(oauth: OAuthDriver) -> None:
    _, challenge = new_pkce()
    response = oauth.consent(challenge, redirect_uri=f"{REDIRECT_URI}?tenant=acme")
    answer = location_params(response)
    assert answer["tenant"] == "acme"
    assert answer["code"]
    assert response.headers["location"].startswith(f"{REDIRECT_URI}?")


def test_replayed_code_is_refused_and_revokes_the_grant_it_produced(oauth: OAuthDriver) -> None:
    code, verifier = oauth.code()
    tokens = oauth.exchange(code, verifier).json()
    replay = oauth.exchange(code, verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    api = oauth.get("/api/v1/me", tokens["access_token"])
    assert (api.status_code, error_code(api)) == (401, "token_revoked")
    assert oauth.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_wrong_code_verifier_is_refused_with_invalid_grant(oauth: OAuthDriver) -> None:
    code, _ = oauth.code()
    other_verifier, _ = new_pkce()
    response = oauth.exchange(code, other_verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "code_verifier" in response.json()["error_description"]


def test_missing_code_verifier_is_refused(oauth: OAuthDriver) -> None:
    code, _ = oauth.code()
    response = oauth.exchange(code, None)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_redirect_uri_differing_from_authorization_is_refused(oauth: OAuthDriver) -> None:
    code, verifier = oauth.code()
    response = oauth.exchange(code, verifier, redirect_uri="http://127.0.0.1:9/elsewhere")
    assert response.json()["error"] == "invalid_grant"


def test_unknown_code_is_refused(oauth: OAuthDriver) -> None:
    verifier, _ = new_pkce()
    response = oauth.exchange("no-such-code", verifier)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_code_expires_after_ten_minutes(oauth: OAuthDriver) -> None:
    code, verifier = oauth.code()
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=11), tick=True):
        response = oauth.exchange(code, verifier)
    assert response.json()["error"] == "invalid_grant"
    assert "expired" in response.json()["error_description"]


def test_token_endpoint_rejects_wrong_client_secret_with_401(oauth: OAuthDriver) -> None:
    code, verifier = oauth.code()
    response = oauth.exchange(code, verifier, client_secret="wrong")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_token_endpoint_accepts_http_basic_client_authentication(oauth: OAuthDriver) -> None:
    code, verifier = oauth.code()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    response = oauth.http.post(
        "/oauth/token", data=form, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200
    assert response.json()["access_token"]


def test_unsupported_grant_type_is_400(oauth: OAuthDriver) -> None:
    form = {"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    response = oauth.http.post("/oauth/token", data=form)
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")


def test_refresh_without_rotation_keeps_the_same_refresh_token_usable(oauth: OAuthDriver) -> None:
    tokens = oauth.tokens()
    first = oauth.refresh(tokens["refresh_token"]).json()
    second = oauth.refresh(tokens["refresh_token"]).json()
    assert first["refresh_token"] == tokens["refresh_token"]
    assert second["access_token"] not in (tokens["access_token"], first["access_token"])
    assert oauth.get("/api/v1/me", second["access_token"]).status_code == 200


def test_old_access_token_keeps_working_after_a_refresh(oauth: OAuthDriver) -> None:
    tokens = oauth.tokens()
    oauth.refresh(tokens["refresh_token"])
    assert oauth.get("/api/v1/me", tokens["access_token"]).status_code == 200


def test_revoke_endpoint_kills_the_grant_and_always_answers_200(oauth: OAuthDriver) -> None:
    tokens = oauth.tokens()
    client = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    revoked = oauth.http.post("/oauth/revoke", data={"token": tokens["refresh_token"], **client})
    unknown = oauth.http.post("/oauth/revoke", data={"token": "never-issued", **client})
    assert (revoked.status_code, unknown.status_code) == (200, 200)
    api = oauth.get("/api/v1/me", tokens["access_token"])
    assert (api.status_code, error_code(api)) == (401, "token_revoked")
    refresh = oauth.refresh(tokens["refresh_token"]).json()
    assert refresh["error"] == "invalid_grant"
    assert "revoked" in refresh["error_description"]


def test_revoke_endpoint_requires_client_authentication(oauth: OAuthDriver) -> None:
    tokens = oauth.tokens()
    form = {"token": tokens["access_token"], "client_id": CLIENT_ID, "client_secret": "no"}
    assert oauth.http.post("/oauth/revoke", data=form).status_code == 401
    assert oauth.get("/api/v1/me", tokens["access_token"]).status_code == 200


def test_non_refreshable_mode_issues_a_long_lived_access_token_only(
    oauth: OAuthDriver, http: httpx.Client
) -> None:
    http.put("/control/settings", json={"refreshable": False})
    tokens = oauth.tokens()
    assert "refresh_token" not in tokens
    assert tokens["expires_in"] == 60 * 86400
    with time_machine.travel(datetime.now(UTC) + timedelta(days=59), tick=True):
        assert oauth.get("/api/v1/me", tokens["access_token"]).status_code == 200
    with time_machine.travel(datetime.now(UTC) + timedelta(days=61), tick=True):
        expired = oauth.get("/api/v1/me", tokens["access_token"])
    assert (expired.status_code, error_code(expired)) == (401, "token_expired")


def test_password_change_drops_pending_codes(oauth: OAuthDriver, http: httpx.Client) -> None:
    code, verifier = oauth.code()
    http.post("/control/users/alice/password", json={"password": "new-secret"})
    assert oauth.exchange(code, verifier).json()["error"] == "invalid_grant"
