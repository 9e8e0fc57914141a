"""Request side of faults and call statistics: injecting down/throttle/slow, counting answers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether.sandbox.state import SandboxError, SandboxState

UNAVAILABLE_MESSAGE = "Sandbox Ads is temporarily unavailable."
_CALL_KEY = "tether.sandbox.call"


class FaultError(SandboxError):
    """A fault switched on through the control API, with the headers it must carry."""

    def __init__(
        self,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        oauth_style: bool = False,
    ) -> None:
        super().__init__(code, message)
        self.headers = headers or {}
        # The token endpoint answers `{"error": "...", "error_description": "..."}` (RFC 6749).
        self.oauth_style = oauth_style


def sandbox_state(request: Request) -> SandboxState:
    """The state of the sandbox app serving this request (also when mounted in another app)."""
    state: SandboxState = request.app.state.sandbox
    return state


async def apply_faults(
    state: SandboxState, username: str | None, *, oauth_style: bool = False
) -> None:
    """Delay, fail or throttle a call made with this user's credentials, as the faults say."""
    faults = state.faults_for(username)
    if faults.slow_ms > 0:
        await asyncio.sleep(faults.slow_ms / 1000)
    if faults.down:
        raise FaultError("unavailable", UNAVAILABLE_MESSAGE, oauth_style=oauth_style)
    if faults.throttle_retry_after is not None:
        retry_after = faults.throttle_retry_after
        raise FaultError(
            "rate_limited",
            f"Too many requests; retry in {retry_after} seconds.",
            {"Retry-After": str(retry_after)},
            oauth_style=oauth_style,
        )


@dataclass(slots=True)
class _Call:
    kind: str | None = None
    username: str | None = None


def count_call(request: Request, kind: str, username: str | None) -> None:
    """Count this request in the statistics as a `kind` call by `username`, once answered."""
    call = request.scope.get(_CALL_KEY)
    if isinstance(call, _Call):
        call.kind, call.username = kind, username


class CallStatsMiddleware:
    """Counts each request a route marked with `count_call`, as ok (< 400) or failed.

    Counting when the response starts, not after it is sent, means a client that got its
    answer always finds it in `/control/stats`.
    """

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        call = scope[_CALL_KEY] = _Call()
        counted = False

        async def counting_send(message: Message) -> None:
            nonlocal counted
            if message["type"] == "http.response.start" and not counted:
                counted = True
                if call.kind is not None:
                    ok = message["status"] < 400
                    self.state.record_call(call.kind, call.username, ok=ok)
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except BaseException:
            if not counted and call.kind is not None:
                self.state.record_call(call.kind, call.username, ok=False)
            raise
