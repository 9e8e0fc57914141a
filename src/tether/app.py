"""create_app(): the API, the OAuth callback, and the sandbox, in one ASGI app."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI

from tether import api_contract, api_docs, errors_http, jobs, probes, runtime, scrape
from tether.audit.api import router as audit_router
from tether.authorizations.api import router as authorizations_router
from tether.clients.api import router as clients_router
from tether.config import Settings
from tether.connections.api import router as connections_router
from tether.health.api import router as health_router
from tether.integrations.api import router as integrations_router
from tether.kit.body_limit import BodyLimitMiddleware
from tether.kit.http_metrics import HttpMetricsMiddleware
from tether.kit.security_headers import SecurityHeadersMiddleware
from tether.kit.server_timing import ServerTimingMiddleware
from tether.members.api import router as members_router
from tether.members.invitations_api import router as invitations_router
from tether.notifications.api import router as notifications_router
from tether.notifications.webhooks_api import router as webhooks_router
from tether.organizations.api import router as organizations_router
from tether.providers.api import router as providers_router
from tether.sync.api import router as sync_router
from tether.web import routes as web
from tether.worker.embedded import Background

if TYPE_CHECKING:
    from tether.sandbox.store import Keeper

log = logging.getLogger(__name__)

# In the data folder, beside the database and the key file.
SANDBOX_FILE = "sandbox.json"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    jobs.load()
    sandbox = _sandbox_keeper(settings) if settings.mount_sandbox else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Entered first so that it saves last, after the background work has stopped.
        kept = sandbox.running() if sandbox is not None else nullcontext()
        async with kept, runtime.opened(settings) as opened:
            app.state.settings = settings
            app.state.sessionmaker = opened.sessions
            app.state.registry = opened.registry
            probes.install(app, opened)
            background = Background(settings, opened.sessions) if settings.background else None
            if background is not None:
                runtime.configure(settings)
                background.start()
            # Everything loaded at start-up lives as long as the process: keep it out of the
            # collector's full passes, which otherwise pause requests for tens of milliseconds.
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                if background is not None:
                    await background.stop()

    app = FastAPI(
        title="Tether",
        version="0.1.0",
        summary="Keeps the data-source connections of a marketing-analytics team alive.",
        lifespan=lifespan,
        # /docs is served by api_docs from installed files; FastAPI's pages need a CDN.
        docs_url=None,
        redoc_url=None,
    )
    api = APIRouter(prefix="/api/v1")
    for router in (
        organizations_router,
        members_router,
        invitations_router,
        clients_router,
        providers_router,
        authorizations_router,
        connections_router,
        health_router,
        audit_router,
        notifications_router,
        webhooks_router,
        integrations_router,
        sync_router,
    ):
        api.include_router(router)
    app.include_router(api)
    api_docs.install(app)
    api_contract.install(app)
    web.install(app)
    # Liveness: the process answers. Readiness: it can serve (database, schema, broker).
    app.add_api_route("/livez", probes.livez, methods=["GET"], tags=["probes"])
    app.add_api_route(
        "/healthz", probes.livez, methods=["GET"], tags=["probes"], include_in_schema=False
    )
    app.add_api_route("/readyz", probes.readyz, methods=["GET"], tags=["probes"])
    # Prometheus's text format, not JSON: outside the API's schema.
    app.add_route("/metrics", scrape.endpoint, methods=["GET"], include_in_schema=False)
    errors_http.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ServerTimingMiddleware)
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(
        SecurityHeadersMiddleware, https=settings.resolved_public_url.startswith("https://")
    )
    if sandbox is not None:
        from tether.sandbox import create_app as create_sandbox

        app.mount("/sandbox", create_sandbox(sandbox.state))
    return app


def _sandbox_keeper(settings: Settings) -> "Keeper":
    """The mounted sandbox's world, kept in the data folder so that it survives restarts."""
    from tether.sandbox.store import Keeper

    return Keeper.opened(settings.data_dir / SANDBOX_FILE)
