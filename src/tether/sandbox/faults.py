"""Request dependencies: reaching the sandbox state and injecting down/throttle/slow faults."""

from __future__ import annotations

import asyncio

from fastapi import Request

from tether.sandbox.state import SandboxError, SandboxState

UNAVAILABLE_MESSAGE = "Sandbox Ads is temporarily unavailable."


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


async def apply_faults(request: Request) -> None:
    """Delay, fail or throttle the request as the current faults say."""
    faults = sandbox_state(request).faults
    if faults.slow_ms > 0:
        await asyncio.sleep(faults.slow_ms / 1000)
    if faults.down:
        raise FaultError("unavailable", UNAVAILABLE_MESSAGE)
    if faults.throttle_retry_after is not None:
        retry_after = faults.throttle_retry_after
        raise FaultError(
            "rate_limited",
            f"Too many requests; retry in {retry_after} seconds.",
            {"Retry-After": str(retry_after)},
        )
