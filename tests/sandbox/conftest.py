"""One sandbox server for the whole sandbox test session, reset before every test."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fixtures.server import serve
from tether.sandbox import SandboxState, create_app

CLIENT_ID = "tether"
CLIENT_SECRET = "tether-sandbox-secret"
REDIRECT_URI = "http://127.0.0.1:9/callback"


def new_pkce() -> tuple[str, str]:
    """A fresh (verifier, S256 challenge) pair."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def location_params(response: httpx.Response) -> dict[str, str]:
    """Query parameters of a redirect's Location header."""
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {key: values[-1] for key, values in query.items()}


@dataclass
class OAuthDriver:
    """Walks the OAuth flow over HTTP the way Tether and a browser would."""

    http: httpx.Client

    def authorize_params(self, challenge: str, **overrides: str) -> dict[str, str]:
        """Query of an authorization request."""
        params = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "state": "st-123",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "scope": "ads.read",
        }
        return {**params, **overrides}

    def consent(
        self,
        challenge: str,
        username: str = "alice",
        decision: str = "allow",
        password: str | None = None,
        **overrides: str,
    ) -> httpx.Response:
        """POST the consent form as a browser would."""
        form = {
            **self.authorize_params(challenge, **overrides),
            "username": username,
            "password": f"{username}-password" if password is None else password,
            "decision": decision,
        }
        return self.http.post("/oauth/authorize", data=form)

    def code(self, username: str = "alice", **overrides: str) -> tuple[str, str]:
        """A fresh authorization code and its PKCE verifier."""
        verifier, challenge = new_pkce()
        params = location_params(self.consent(challenge, username, **overrides))
        return params["code"], verifier

    def exchange(self, code: str, verifier: str | None, **overrides: str) -> httpx.Response:
        """POST the authorization-code grant."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            **({"code_verifier": verifier} if verifier is not None else {}),
            **overrides,
        }
        return self.http.post("/oauth/token", data=form)

    def tokens(self, username: str = "alice") -> dict[str, Any]:
        """Run the whole flow and return the token response."""
        code, verifier = self.code(username)
        response = self.exchange(code, verifier)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def refresh(self, refresh_token: str) -> httpx.Response:
        """POST the refresh-token grant."""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        return self.http.post("/oauth/token", data=form)

    def get(self, path: str, access_token: str, **params: str) -> httpx.Response:
        """An API call with a bearer token."""
        headers = {"Authorization": f"Bearer {access_token}"}
        return self.http.get(path, headers=headers, params=params)


@pytest.fixture(scope="session")
def sandbox() -> SandboxState:
    """The state behind the session's sandbox server."""
    return SandboxState.seeded()


@pytest.fixture(scope="session")
def base_url(sandbox: SandboxState) -> Iterator[str]:
    """Base URL of the sandbox server."""
    with serve(create_app(sandbox)) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_world(sandbox: SandboxState) -> None:
    sandbox.reset()


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    """HTTP client on the sandbox that never follows redirects."""
    with httpx.Client(base_url=base_url, timeout=10, follow_redirects=False) as client:
        yield client


@pytest.fixture
def oauth(http: httpx.Client) -> OAuthDriver:
    """OAuth flow helper bound to the sandbox server."""
    return OAuthDriver(http)


def error_code(response: httpx.Response) -> str:
    """The `error.code` of an API error body."""
    code: str = response.json()["error"]["code"]
    return code
