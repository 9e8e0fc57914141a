"""Settings, Undelivered email: the emails Tether gave up on, so an admin can fix an address or
the mail server and tell the member what they missed.

An email is given up when the mail server refuses its recipient or message for good (a 5xx
answer to RCPT or DATA), or when every try failed (`TETHER_EMAIL_MAX_ATTEMPTS`); nothing sends
it again. The list is read a keyset page at a time, the last given up first.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tether.deps import SessionDep, SettingsDep
from tether.notifications import service
from tether.web.auth import PageActor
from tether.web.pages.notifications import EVENTS
from tether.web.params import Cursor
from tether.web.templating import render

router = APIRouter(include_in_schema=False)

DOING = "see or change Settings"
PAGE_SIZE = 50


@router.get("/settings/undelivered-emails")
async def undelivered_emails_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: PageActor,
    cursor: Cursor = None,
) -> Response:
    actor.require_admin(DOING)
    page = await service.undelivered_emails(session, actor=actor, cursor=cursor, limit=PAGE_SIZE)
    context = {
        "section": "emails",
        "emails": page.items,
        "events": EVENTS,
        "max_attempts": settings.email_max_attempts,
        "next_cursor": page.next_cursor,
        "first_page": cursor is None,
    }
    return render(request, "settings/undelivered_emails.html", context)
