"""`X-Request-Id` on every answer, and on every log line written while a request is served.

A proxy's or a caller's id is kept when it is a plain token of reasonable length, so one
request can be followed through the proxy's logs and Tether's; anything else (too long, or
characters a log reader could be fooled by) is ignored and a fresh id is made.
"""

import re
import uuid

import structlog
from starlette.types import Receive, Scope, Send

from tether.kit.asgi import HttpMiddleware, with_headers

HEADER = b"x-request-id"
STATE_KEY = "request_id"
_SANE = re.compile(rb"[A-Za-z0-9._-]{1,128}")


def incoming(scope: Scope) -> str | None:
    """The request's own `X-Request-Id`, if it is one Tether can repeat safely."""
    for name, value in scope["headers"]:
        if name == HEADER and _SANE.fullmatch(value):
            return bytes(value).decode("ascii")
    return None


class RequestIdMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = incoming(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})[STATE_KEY] = request_id
        send = with_headers(send, lambda: [(HEADER, request_id.encode("ascii"))])

        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        await self.app(scope, receive, send)
        # Left bound when the app raised: the unexpected-error answer and the server's own line
        # about it are written outside this middleware, in the same task (which ends with it).
        structlog.contextvars.reset_contextvars(**bound)


def of(scope: Scope) -> str | None:
    """The id given to this request, for an answer made outside the middleware (a 500)."""
    found = scope.get("state", {}).get(STATE_KEY)
    return found if isinstance(found, str) else None
