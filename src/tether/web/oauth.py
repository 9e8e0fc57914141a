"""OAuth in the web app: a page's button starts the sign-in, which opens in a pop-up, and
GET /oauth/callback is where the provider sends the member's browser after consent."""

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.authorizations import manage, oauth
from tether.config import Settings
from tether.deps import RegistryDep, SessionDep, SettingsDep
from tether.kit.redirects import check_return_to, local_path_or
from tether.providers.registry import Registry
from tether.web.responses import oauth_popup

router = APIRouter(tags=["authorizations"])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

Param = Annotated[str | None, Query(max_length=2000)]


def oauth_lifetime(settings: Settings) -> timedelta:
    """How long a started sign-in may take before its state expires."""
    return timedelta(seconds=settings.oauth_state_lifetime_seconds)


async def reconnect_popup(
    session: AsyncSession,
    actor: Actor,
    registry: Registry,
    settings: Settings,
    *,
    authorization_id: uuid.UUID | None = None,
    connection_id: uuid.UUID | None = None,
    return_to: str | None = None,
) -> Response:
    """Start signing in again for an authorization (or through one of its connections); the
    page opens the provider's sign-in in a pop-up."""
    check_return_to(return_to)
    started = await manage.start_reconnect(
        session,
        actor=actor,
        registry=registry,
        redirect_uri=settings.oauth_redirect_uri,
        lifetime=oauth_lifetime(settings),
        authorization_id=authorization_id,
        connection_id=connection_id,
        return_to=return_to,
    )
    return oauth_popup(started)


# A browser's landing after a provider's consent, not part of the JSON API.
@router.get("/oauth/callback", response_class=HTMLResponse, include_in_schema=False)
async def oauth_callback(
    request: Request,
    session: SessionDep,
    registry: RegistryDep,
    settings: SettingsDep,
    state: Param = None,
    code: Param = None,
    # TikTok names its code `auth_code` (and is said to send it as `code` too).
    auth_code: Param = None,
    error: Param = None,
    error_description: Param = None,
    # OAuth 1.0a (X): the request token names the attempt, the verifier proves the consent, and
    # a refusal comes back as `denied` (naming the request token) instead.
    oauth_token: Param = None,
    oauth_verifier: Param = None,
    denied: Param = None,
) -> Response:
    """Finish connecting: exchange the code, store the grant, discover its accounts."""
    refused = error_description or error or ("denied" if denied else None)
    outcome = await oauth.complete(
        session,
        registry=registry,
        state=state or oauth_token or denied,
        code=code or auth_code or oauth_verifier,
        error=refused,
        redirect_uri=settings.oauth_redirect_uri,
    )
    authorization = outcome.authorization
    if "application/json" in request.headers.get("accept", ""):
        if authorization is None:
            code_name = "oauth_denied" if refused else "oauth_failed"
            body = {"error": {"code": code_name, "message": outcome.message}}
            return JSONResponse(body, status_code=outcome.status)
        return JSONResponse({"authorization_id": str(authorization.id), "message": outcome.message})
    context = {
        "ok": authorization is not None,
        "message": outcome.message,
        "who": authorization.external_user_name if authorization else None,
        "authorization_id": str(authorization.id) if authorization else None,
        # Checked again as it is shown: the link must not lead away whatever was stored.
        "return_to": local_path_or(outcome.return_to, "/"),
    }
    return templates.TemplateResponse(
        request, "oauth_result.html", context, status_code=outcome.status
    )
