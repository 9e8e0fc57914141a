"""Sandbox Ads: a local, fake ad platform to exercise Tether without real ad accounts."""

from __future__ import annotations

import html

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from tether.sandbox import api, control, dialects, oauth
from tether.sandbox.faults import CallStatsMiddleware
from tether.sandbox.state import OAuthError, SandboxError, SandboxState

__all__ = ["SandboxState", "create_app"]

_HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox Ads</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto">
<h1>Sandbox Ads</h1>
<p>A fake advertising platform that ships with Tether, so you can try every connection flow
without a real Google, Meta or TikTok account. Mounted in Tether (<code>tether serve</code>),
its users, accounts, grants and switches are saved in Tether's data folder
(<code>sandbox.json</code>) and survive a restart; run on its own (<code>tether sandbox</code>),
it lives in memory and is re-seeded on restart. <code>POST {base}control/reset</code> re-seeds
it either way.</p>
<ul>
<li>OAuth 2.0 with PKCE: <code>{base}oauth/authorize</code>, <code>{base}oauth/token</code>,
<code>{base}oauth/revoke</code> (client <code>tether</code>)</li>
<li>API: <code>{base}api/v1/me</code>, <code>{base}api/v1/accounts</code>,
<code>{base}api/v1/accounts/&lt;id&gt;/metrics</code></li>
<li>Control: <a href="{base}control/state">{base}control/state</a> — expire, revoke, throttle,
take the platform (or one user) down; call counts at
<a href="{base}control/stats">{base}control/stats</a>.</li>
</ul>
<p>Demo users: alice, bob and carol (password: the username followed by <code>-password</code>).</p>
</body></html>
"""


def create_app(state: SandboxState | None = None) -> FastAPI:
    """The Sandbox Ads ASGI app; mountable under any prefix."""
    app = FastAPI(title="Sandbox Ads", summary="Fake ad platform for trying Tether.")
    sandbox = state if state is not None else SandboxState.seeded()
    app.state.sandbox = sandbox
    app.add_middleware(CallStatsMiddleware, state=sandbox)
    app.include_router(oauth.router)
    app.include_router(api.router)
    app.include_router(control.router)
    app.add_exception_handler(SandboxError, api.sandbox_error_handler)
    app.add_exception_handler(OAuthError, oauth.oauth_error_handler)
    app.add_exception_handler(RequestValidationError, api.validation_error_handler)
    app.add_exception_handler(HTTPException, api.http_error_handler)
    dialects.mount(app, sandbox)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request) -> str:
        """What the sandbox is and where its endpoints live."""
        # root_path includes any mount prefix; request.base_url only has the server's root path.
        base = request.url.replace(path=request.scope.get("root_path", "") + "/", query="")
        return _HOME.format(base=html.escape(str(base)))

    return app
