"""What an orchestrator and Prometheus ask of a Tether process: `/livez`, `/readyz` and
`/metrics`. The web app mounts these routes beside its own; `tether worker` serves them alone,
on `TETHER_WORKER_PORT`, so workers are probed and scraped like web replicas."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tether import readiness, runtime, scrape
from tether.kit.http_metrics import HttpMetricsMiddleware

log = logging.getLogger(__name__)


async def livez() -> dict[str, str]:
    """The process answers (nothing else is asked: a restart would not mend a database)."""
    return {"status": "ok"}


async def readyz(request: Request) -> JSONResponse:
    """Whether this process can serve: 200 when every check passes, else 503 naming which."""
    opened: runtime.Runtime = request.app.state.runtime
    head = request.app.state.schema_head
    found = await readiness.checks(opened.engine, opened.settings, head)
    ready = all(c.ok for c in found)
    for failed in (c for c in found if not c.ok):
        # The driver's words name hosts: for the operator's logs, not an unauthenticated answer.
        log.warning("not ready: %s %s", failed.name, failed.detail)
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {c.name: "ok" if c.ok else "failing" for c in found},
    }
    return JSONResponse(body, status_code=200 if ready else 503)


def install(app: Starlette, opened: runtime.Runtime) -> None:
    """What the probes read, kept on the app for the life of the process."""
    app.state.runtime = opened
    app.state.schema_head = readiness.release_head()
    app.state.metrics = scrape.State(opened.sessions, opened.settings)


def worker_app(opened: runtime.Runtime) -> Starlette:
    """The probes and metrics of a `tether worker`, on its own port."""

    async def alive(_: Request) -> Response:
        return JSONResponse(await livez())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        install(app, opened)
        yield

    app = Starlette(
        routes=[
            Route("/livez", alive),
            Route("/readyz", readyz),
            Route("/metrics", scrape.endpoint),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(HttpMetricsMiddleware)
    return app
