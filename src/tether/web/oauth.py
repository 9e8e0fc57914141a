"""GET /oauth/callback: where the provider sends the member's browser after consent."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from tether.authorizations import oauth
from tether.deps import RegistryDep, SessionDep, SettingsDep

router = APIRouter(tags=["authorizations"])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

Param = Annotated[str | None, Query(max_length=2000)]


@router.get("/oauth/callback", response_class=HTMLResponse)
async def oauth_callback(
    request: Request,
    session: SessionDep,
    registry: RegistryDep,
    settings: SettingsDep,
    state: Param = None,
    code: Param = None,
    error: Param = None,
    error_description: Param = None,
) -> Response:
    """Finish connecting: exchange the code, store the grant, discover its accounts."""
    outcome = await oauth.complete(
        session,
        registry=registry,
        state=state,
        code=code,
        error=error_description or error,
        redirect_uri=settings.oauth_redirect_uri,
    )
    authorization = outcome.authorization
    if "application/json" in request.headers.get("accept", ""):
        if authorization is None:
            code_name = "oauth_denied" if error else "oauth_failed"
            body = {"error": {"code": code_name, "message": outcome.message}}
            return JSONResponse(body, status_code=outcome.status)
        return JSONResponse({"authorization_id": str(authorization.id), "message": outcome.message})
    context = {
        "ok": authorization is not None,
        "message": outcome.message,
        "who": authorization.external_user_name if authorization else None,
        "authorization_id": str(authorization.id) if authorization else None,
        "return_to": outcome.return_to or "/",
    }
    return templates.TemplateResponse(
        request, "oauth_result.html", context, status_code=outcome.status
    )
