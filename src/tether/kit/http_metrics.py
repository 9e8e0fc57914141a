"""`tether_http_request_duration_seconds`: how long each request took, by method, route and
status.

The route is the template the router matched (`/api/v1/connections/{connection_id}`), never the
path itself: ids in labels would make a new series per connection, without bound. A request no
route matched is labelled `UNMATCHED`, whatever its path; one under a mounted app that has no
route for it (a static file, a wrong sandbox path) by the mount: `/static/{path}`.
"""

import time

from prometheus_client import Histogram
from starlette.routing import BaseRoute, Mount
from starlette.types import Message, Receive, Scope, Send

from tether.kit.asgi import HttpMiddleware

UNMATCHED = "<unmatched>"
# Any other method a client invents is labelled OTHER: a label must not take whatever is sent.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "OTHER"
# Seconds, from a cached page (milliseconds) to a request waiting on a provider.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_DURATION = Histogram(
    "tether_http_request_duration_seconds",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
    buckets=BUCKETS,
)


class HttpMetricsMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        status = 500  # what the server answers if the app raises before starting a response

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            # The router records the route it matched in the scope it was given (this one).
            route = _template(scope, root_path)
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in METHODS else OTHER
            HTTP_DURATION.labels(method, route, str(status)).observe(elapsed)


def _template(scope: Scope, root_path: str) -> str:
    """The matched route's path, behind the paths of the mounts it is under."""
    route: BaseRoute | None = scope.get("route")
    # FastAPI keeps an included router's routes as written (without the router's prefix) and
    # records the matched route's full template in its own part of the scope.
    included = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(included, "path_format", None) or getattr(route, "path", None)
    mounted: str = scope.get("root_path", "")[len(root_path) :]
    if isinstance(path, str) and not isinstance(route, Mount):
        return mounted + path
    if mounted:
        # A mounted app with no routes of its own (static files), or none of its routes matched:
        # only the outermost mount's path is fixed, the rest is what was asked for.
        return "/" + mounted.split("/")[1] + "/{path}"
    return UNMATCHED
