"""The sandbox's Google dialect served over HTTP on its own (with the GA4 and YouTube routes
in it), and the adapters built by the registry to call it: what the GA4 and YouTube tests
share. Tokens come straight from the sandbox state, as Google's consent would make them.
"""

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.server import serve
from tether.config import Settings
from tether.providers.base import Credentials
from tether.providers.registry import Registry, build_registry
from tether.sandbox import SandboxState
from tether.sandbox.dialects import google, google_analytics, google_youtube
from tether.sandbox.state import pkce_challenge

REDIRECT_URI = "http://127.0.0.1:9/callback"
# The identity scopes as Google grants them (it writes `email` and `profile` out in full).
IDENTITY = (
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
)
GA_SCOPES = (*IDENTITY, google_analytics.SCOPE)
YOUTUBE_SCOPES = (*IDENTITY, *google_youtube.SCOPES)


@dataclass
class GoogleSandbox:
    """The sandbox world behind the served routes, and where they answer."""

    state: SandboxState
    url: str

    @property
    def google(self) -> str:
        return f"{self.url}/google"

    def token(self, scopes: tuple[str, ...], username: str = "alice") -> str:
        """A fresh access token of a new grant of this user, as Google's consent makes one."""
        verifier = secrets.token_urlsafe(48)
        code = self.state.issue_code(
            client_id="tether",
            redirect_uri=REDIRECT_URI,
            code_challenge=pkce_challenge(verifier),
            user_id=self.state.user(username).id,
            scope=" ".join(scopes),
        )
        tokens = self.state.exchange_code(
            client_id="tether", code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier
        )
        return tokens.access_token

    def credentials(self, scopes: tuple[str, ...], username: str = "alice") -> Credentials:
        return Credentials(access_token=self.token(scopes, username))

    def calls(self, kind: str, username: str = "alice") -> dict[str, int]:
        """How many `kind` calls of this user the routes answered, ok and failed."""
        users: dict[str, Any] = self.state.stats()["users"]
        return dict(users.get(username, {}).get(kind, {"ok": 0, "failed": 0}))

    async def late_answers(self, kind: str, within: float = 5.0) -> int:
        """Wait for the `kind` calls a client gave up on to be answered, and count them ok.

        A call the client stopped waiting for still runs to its end on the server; counted in
        the next test, it would be a call that test never made.
        """
        deadline = time.monotonic() + within
        while True:
            answered = self.calls(kind)["ok"]
            if answered or time.monotonic() > deadline:
                return answered
            await asyncio.sleep(0.05)

    def grant_ids(self, username: str = "alice") -> list[str]:
        return [g.id for g in self.state.grants_for(username) if g.revoked_reason is None]


def dialect_app(state: SandboxState) -> FastAPI:
    """The Google dialect at `/google`, as the sandbox mounts it."""
    root = FastAPI()
    root.mount("/google", google.create_app(state))
    return root


@pytest.fixture(scope="session")
def google_sandbox() -> Iterator[GoogleSandbox]:
    state = SandboxState.seeded()
    with serve(dialect_app(state)) as url:
        yield GoogleSandbox(state, url)


@pytest.fixture(autouse=True)
def _fresh_google_world(request: pytest.FixtureRequest) -> None:
    if "google_sandbox" in request.fixturenames:
        request.getfixturevalue("google_sandbox").state.reset()


@pytest.fixture
async def google_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield http


@pytest.fixture
def stand_ins(google_sandbox: GoogleSandbox, google_http: httpx.AsyncClient) -> Registry:
    """The registry with the sandbox standing in for Google Analytics and YouTube."""
    settings = Settings(
        sandbox_url=google_sandbox.url, sandbox_stands_in_for="google_analytics,youtube"
    )
    return build_registry(settings, google_http)
