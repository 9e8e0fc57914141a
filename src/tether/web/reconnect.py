"""GET /reconnect/{token}: where a reconnect link from an email or notification lands."""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from tether.errors import TetherError
from tether.notifications.links import check_link

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@router.get("/reconnect/{token}", response_class=HTMLResponse)
async def reconnect_landing(request: Request, token: str) -> Response:
    """Check the link, then send the member on to sign in and reconnect."""
    try:
        check_link(token)
    except TetherError as refusal:
        context = {"ok": False, "message": refusal.message, "token": token}
        return templates.TemplateResponse(
            request, "reconnect.html", context, status_code=refusal.status
        )
    context = {"ok": True, "message": "", "token": token}
    return templates.TemplateResponse(request, "reconnect.html", context)
