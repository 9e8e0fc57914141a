"""What Tether's pure ASGI middlewares share: acting on HTTP requests only, and setting
headers on the response whatever the app below answered."""

from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMiddleware:
    """A middleware that handles HTTP requests (`handle`) and passes anything else (lifespan,
    websockets) straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


def with_headers(
    send: Send, headers: Callable[[], Iterable[tuple[bytes, bytes]]], *, override: bool = True
) -> Send:
    """`send`, setting `headers()` (lower-case names) on the response's start: each replaces any
    header of its name the app set, or (`override=False`) gives way to it. `headers` is called
    then, so it may measure time."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            own = list(message.get("headers", []))
            added = list(headers())
            if override:
                names = {name for name, _ in added}
                own = [(k, v) for k, v in own if k.lower() not in names]
            else:
                present = {name.lower() for name, _ in own}
                added = [(k, v) for k, v in added if k not in present]
            message = {**message, "headers": own + added}
        await send(message)

    return send_with_headers
