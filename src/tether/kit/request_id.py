"""`X-Request-Id` on every answer, and on every log line written while a request is served.

A proxy's or a caller's id is kept when it is a plain token of reasonable length, so one
request can be followed through the proxy's logs and Tether's; anything else (too long, or
characters a log reader could be fooled by) is ignored and a fresh id is made.
"""

import re
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
STATE_KEY = "request_id"
_SANE = re.compile(rb"[A-Za-z0-9._-]{1,128}")


def incoming(scope: Scope) -> str | None:
    """The request's own `X-Request-Id`, if it is one Tether can repeat safely."""
    for name, value in scope["headers"]:
        if name == HEADER and _SANE.fullmatch(value):
            return bytes(value).decode("ascii")
    return None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})[STATE_KEY] = request_id

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != HEADER]
                headers.append((HEADER, request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        await self.app(scope, receive, with_id)
        # Left bound when the app raised: the unexpected-error answer and the server's own line
        # about it are written outside this middleware, in the same task (which ends with it).
        structlog.contextvars.reset_contextvars(**bound)


def of(scope: Scope) -> str | None:
    """The id given to this request, for an answer made outside the middleware (a 500)."""
    found = scope.get("state", {}).get(STATE_KEY)
    return found if isinstance(found, str) else None
