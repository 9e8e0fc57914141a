"""The Incidents screen: lapses, warnings and outages, open and closed, newest first.

Rows come from the API's keyset pages and the counts from one count query; staff see only the
incidents that touch their clients (and provider outages, which are everyone's).
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tether.deps import SessionDep
from tether.errors import BadRequest
from tether.health import service
from tether.models import IncidentKind
from tether.web.auth import PageActor
from tether.web.params import Cursor, Text
from tether.web.templating import render

router = APIRouter(include_in_schema=False)

STATES = (("open", "Open"), ("closed", "Closed"), ("all", "All"))
KINDS = {
    IncidentKind.LAPSE.value: "Lapse",
    IncidentKind.EXPIRING.value: "Expiring soon",
    IncidentKind.FAILING.value: "Failing",
    IncidentKind.OUTAGE.value: "Provider outage",
}
SCOPES = {"authorization": "Authorization", "connection": "Connection", "provider": "Provider"}
CLOSED_HOW = {
    "recovered": "recovered by itself",
    "reconnected": "reconnected",
    "disconnected": "disconnected",
    "deleted": "authorization deleted",
    "switched": "switched to another account",
}
PAGE_SIZE = 50


@router.get("/incidents")
async def incidents_page(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    state: Text = None,
    kind: Text = None,
    provider: Text = None,
    cursor: Cursor = None,
) -> Response:
    if state and state not in {key for key, _ in STATES}:
        raise BadRequest("Show open, closed or all incidents.", code="invalid_state")
    if kind and kind not in KINDS:
        raise BadRequest(
            f"Unknown kind of incident {kind!r}: use one of {', '.join(KINDS)}.",
            code="invalid_kind",
        )
    kind, provider = kind or None, provider or None
    counts = await service.count_incidents(
        session, actor=actor, provider=provider, client_id=None, kind=kind
    )
    # What is still open comes first, as on the Connections screen.
    state = state or ("open" if counts["open"] else "all")
    page = await service.list_incidents(
        session,
        actor=actor,
        state=state,
        provider=provider,
        client_id=None,
        kind=kind,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    subjects = await service.incident_subjects(session, actor=actor, rows=page.items)
    context = {
        "states": STATES,
        "state": state,
        "counts": counts,
        "kinds": KINDS,
        "scopes": SCOPES,
        "closed_how": CLOSED_HOW,
        "items": page.items,
        "subjects": subjects,
        "next_cursor": page.next_cursor,
        "first_page": cursor is None,
        "filters": {"kind": kind or "", "provider": provider or ""},
    }
    return render(request, "incidents/page.html", context)
