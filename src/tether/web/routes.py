"""Every router of the web app, and its static files."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from tether.web import oauth, reconnect
from tether.web.pages import (
    audit,
    connections,
    coverage,
    incidents,
    integrations,
    invitations,
    login,
    notifications,
    settings,
    sources,
)

ROUTERS = (
    oauth.router,
    reconnect.router,
    login.router,
    invitations.router,
    connections.router,
    sources.router,
    notifications.router,
    integrations.router,
    incidents.router,
    audit.router,
    coverage.router,
    settings.router,
)


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.add_api_route("/favicon.ico", _favicon, methods=["GET"], include_in_schema=False)


async def _favicon() -> RedirectResponse:
    """Browsers ask for /favicon.ico whatever the page says: the icon is an SVG."""
    return RedirectResponse("/static/favicon.svg", status_code=301)
