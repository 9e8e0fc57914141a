"""What every dialect's app is: a FastAPI app over the sandbox's one world, counting its calls,
with the platform's own answers for its errors, for a request it cannot read and for a path it
does not have."""

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from tether.sandbox.faults import CallStatsMiddleware
from tether.sandbox.state import SandboxState

Handler = Callable[[Request, Exception], Awaitable[Response]]


class Answered(Protocol):
    """An error that knows the platform's answer for it."""

    def response(self) -> Response: ...


async def answered(request: Request, exc: Exception) -> Response:
    """The platform's own answer for one of its errors (each dialect's error knows it)."""
    assert hasattr(exc, "response")
    error: Answered = exc
    return error.response()


def dialect_app(
    platform: str,
    state: SandboxState,
    routers: Iterable[APIRouter],
    errors: Mapping[type[Exception], Handler],
    *,
    redirect_slashes: bool = True,
) -> FastAPI:
    """`platform`'s dialect of the sandbox, over the sandbox's own world."""
    app = FastAPI(
        title=f"Sandbox Ads speaking {platform}",
        docs_url=None,
        redoc_url=None,
        redirect_slashes=redirect_slashes,
    )
    app.state.sandbox = state
    app.add_middleware(CallStatsMiddleware, state=state)
    for router in routers:
        app.include_router(router)
    for kind, handler in errors.items():
        app.add_exception_handler(kind, handler)
    return app
