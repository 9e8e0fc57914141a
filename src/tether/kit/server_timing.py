"""`Server-Timing: app;dur=<ms>` on every response: the time Tether spent before answering.

Browsers show it in their developer tools, and benchmarks read it to tell server time from the
network and client around it.
"""

import time

from starlette.types import Receive, Scope, Send

from tether.kit.asgi import HttpMiddleware, with_headers


class ServerTimingMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()

        def timing() -> list[tuple[bytes, bytes]]:
            elapsed = (time.perf_counter() - started) * 1000
            return [(b"server-timing", f"app;dur={elapsed:.2f}".encode())]

        await self.app(scope, receive, with_headers(send, timing))
