"""Settings, for admins only: members and their client access, webhooks, undelivered email,
and the sandbox.

Each part lives in its own module; this one gathers their routes under one router. Every
handler starts with `actor.require_admin(DOING)`, so anyone else gets a 403 page that says so.
"""

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from tether.web.pages.settings_emails import router as emails_router
from tether.web.pages.settings_members import router as members_router
from tether.web.pages.settings_sandbox import router as sandbox_router
from tether.web.pages.settings_webhooks import router as webhooks_router

router = APIRouter(include_in_schema=False)
router.include_router(members_router)
router.include_router(webhooks_router)
router.include_router(emails_router)
router.include_router(sandbox_router)


@router.get("/settings")
async def settings_home() -> RedirectResponse:
    return RedirectResponse("/settings/members", status_code=303)
