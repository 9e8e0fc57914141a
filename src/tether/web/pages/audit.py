"""The Audit log screen: who or what changed what, and when, newest first (admins only).

Entries come from the API's keyset pages; the names of their subjects and of the members who
acted are looked up for the page shown only, one query per kind of subject.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.audit import service
from tether.audit.service import HEALTH
from tether.deps import SessionDep
from tether.members import service as members
from tether.models import AuditEvent
from tether.sync.service import SYNC
from tether.web.auth import PageActor
from tether.web.templating import STATUS_LABELS, render

router = APIRouter(include_in_schema=False)

ACTIONS = {
    "authorization.status": "Authorization status changed",
    "authorization.reconnected": "Authorization reconnected",
    "authorization.promoted": "Authorization made main",
    "authorization.deleted": "Authorization deleted",
    "connection.status": "Connection status changed",
    "connection.disconnected": "Connection disconnected",
    "connection.connected": "Connection connected again",
    "connection.switched": "Connection switched to another account",
    "connection.reconnected": "Connection moved to a new authorization",
    "incident.opened": "Incident opened",
    "incident.closed": "Incident closed",
    "webhook.created": "Webhook added",
    "webhook.updated": "Webhook changed",
    "webhook.deleted": "Webhook deleted",
    "webhook.secret_rotated": "Webhook secret rotated",
}
SUBJECT_TYPES = {
    "authorization": "Authorization",
    "connection": "Connection",
    "incident": "Incident",
    "webhook_endpoint": "Webhook",
}
SYSTEM_ACTORS = {HEALTH: "Tether (health checks)", SYNC: "Tether (data loads)"}
# Values that are words of the product rather than free text.
VALUE_LABELS = {
    **STATUS_LABELS,
    "lapse": "Lapse",
    "expiring": "Expiring soon",
    "outage": "Provider outage",
    "main": "Main",
    "secondary": "Secondary",
}
# Details the subject column already says, or that mean nothing to a reader.
HIDDEN_DETAILS = frozenset({"scope"})
PAGE_SIZE = 50
Text = Annotated[str | None, Query(max_length=80)]


@dataclass(frozen=True, slots=True)
class Entry:
    event: AuditEvent
    who: str
    subject: str
    change: str | None
    details: list[tuple[str, str]]


def _value(value: str | None) -> str | None:
    return VALUE_LABELS.get(value, value) if value else None


def _change(event: AuditEvent) -> str | None:
    if event.action == "connection.reconnected":
        return "Moved to the authorization that was signed in again"
    before, after = _value(event.from_value), _value(event.to_value)
    if before and after:
        return f"{before} → {after}"
    return after or before


def _details(details: dict[str, Any]) -> list[tuple[str, str]]:
    shown = []
    for key, value in details.items():
        if key in HIDDEN_DETAILS or value in (None, "", []):
            continue
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        shown.append((key.replace("_", " ").capitalize(), text.replace("_", " ")))
    return shown


def _who(actor: str, names: dict[str, str]) -> str:
    if actor in SYSTEM_ACTORS:
        return SYSTEM_ACTORS[actor]
    return names.get(actor, "A former member" if actor.startswith("member:") else actor)


async def _members(session: AsyncSession, actor: Actor) -> dict[str, str]:
    """`member:<id>` to a name a reader knows, for every member of the organization."""
    found = await members.list_member_rows(session, actor=actor)
    return {f"member:{m.id}": f"{m.name} ({m.email})" for m in found}


@router.get("/audit")
async def audit_page(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    action: Text = None,
    subject_type: Text = None,
    who: Text = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    actor.require_admin("read the audit log")
    page = await service.list_events(
        session,
        actor=actor,
        subject_type=subject_type or None,
        action=action or None,
        who=who or None,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    names = await _members(session, actor)
    subjects = await service.subject_names(session, actor=actor, events=page.items)
    entries = [
        Entry(
            event=e,
            who=_who(e.actor, names),
            subject=subjects.get((e.subject_type, e.subject_id), ""),
            change=_change(e),
            details=_details(e.details),
        )
        for e in page.items
    ]
    context = {
        "entries": entries,
        "next_cursor": page.next_cursor,
        "first_page": cursor is None,
        "actions": _with_unknown(ACTIONS, action),
        "subject_types": _with_unknown(SUBJECT_TYPES, subject_type),
        "who_options": _with_unknown({**SYSTEM_ACTORS, **names}, who),
        "filters": {"action": action or "", "subject_type": subject_type or "", "who": who or ""},
    }
    return render(request, "audit/page.html", context)


def _with_unknown(options: dict[str, str], chosen: str | None) -> dict[str, str]:
    """The options of a filter, with the chosen value kept even when it is not a known one."""
    return options if not chosen or chosen in options else {**options, chosen: chosen}
