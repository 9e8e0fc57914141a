"""The sandbox as Google: one app under `/google`, one prefix per base URL of Google's
definitions (`/accounts`, `/oauth2`, `/openidconnect`, `/ads`, `/analyticsadmin`,
`/analyticsdata`, `/youtube`, `/youtubeanalytics`), over the one sandbox world.

OAuth and userinfo are in `google_oauth.py`, Google Ads in `google_ads.py`; Google Analytics
and YouTube bring their own routers. What every Google route shares (Google's error body,
the bearer caller with the sandbox's faults) is in `google_api.py`, re-exported here.
"""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tether.sandbox.dialects import google_ads, google_oauth
from tether.sandbox.dialects.google_api import (
    STATUS_NAMES,
    GoogleApiError,
    Refusal,
    authenticate,
    fault_headers,
    google_caller,
    google_error,
    google_route,
    plain_refusal,
)
from tether.sandbox.faults import CallStatsMiddleware
from tether.sandbox.state import SandboxState

__all__ = [
    "GoogleApiError",
    "Refusal",
    "authenticate",
    "create_app",
    "fault_headers",
    "google_caller",
    "google_error",
    "google_route",
    "plain_refusal",
]


def create_app(state: SandboxState) -> FastAPI:
    """The Google dialect's app, sharing the sandbox's world."""
    # Imported here: these product modules may import this one's helpers.
    from tether.sandbox.dialects import google_analytics, google_youtube

    app = FastAPI(title="Sandbox as Google", openapi_url=None)
    app.state.sandbox = state
    app.add_middleware(CallStatsMiddleware, state=state)
    for router in (
        google_oauth.router,
        google_oauth.userinfo_router,
        google_ads.router,
        google_analytics.router,
        google_youtube.router,
    ):
        app.include_router(router)
    app.add_exception_handler(HTTPException, _http_error)
    return app


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Unknown paths and wrong methods answer in Google's shape too."""
    assert isinstance(exc, HTTPException)
    status = STATUS_NAMES.get(exc.status_code, "UNKNOWN")
    return google_error(exc.status_code, status, str(exc.detail), headers=exc.headers)
