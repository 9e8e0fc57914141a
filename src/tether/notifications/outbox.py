"""Writing notifications in the same transaction as the incident that causes them.

Each incident event becomes, per organization concerned: an in-app notification per member who
should see it, an email delivery per member who should get it, and a webhook delivery per
subscribed endpoint. Unique constraints make a second emission of the same event a no-op, so
one incident is one notification per recipient and channel whatever retries happen.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction

from tether.health import repository as health_repository
from tether.kit.inserts_repository import insert_ignoring_conflicts
from tether.models import (
    Authorization,
    Channel,
    EmailDelivery,
    Event,
    Incident,
    IncidentKind,
    IncidentScope,
    Member,
    MemberClientAccess,
    Notification,
    NotificationPreference,
    Role,
    WebhookDelivery,
    WebhookEndpoint,
)
from tether.notifications import repository
from tether.providers.catalog import BY_KEY

RESTORING = ("recovered", "reconnected")


def opened_event(incident: Incident) -> Event | None:
    if incident.kind == IncidentKind.LAPSE:
        if incident.scope == IncidentScope.CONNECTION:
            return Event.CONNECTION_LAPSED
        return Event.AUTHORIZATION_LAPSED
    if incident.kind == IncidentKind.EXPIRING:
        return Event.AUTHORIZATION_EXPIRING
    if incident.kind == IncidentKind.OUTAGE:
        return Event.PROVIDER_OUTAGE
    return None


def closed_event(incident: Incident) -> Event | None:
    if incident.kind == IncidentKind.OUTAGE:
        return Event.PROVIDER_OUTAGE_ENDED
    if incident.kind != IncidentKind.LAPSE or incident.closed_how not in RESTORING:
        return None
    if incident.scope == IncidentScope.CONNECTION:
        return Event.CONNECTION_RESTORED
    return Event.AUTHORIZATION_RESTORED


async def incident_opened(session: AsyncSession, incident: Incident, now: datetime) -> None:
    event = opened_event(incident)
    if event is not None:
        await emit(session, incident, event, now)


async def incident_closed(session: AsyncSession, incident: Incident, now: datetime) -> None:
    """A lapse that is over resolves what told of it, and says so."""
    if incident.kind in (IncidentKind.LAPSE, IncidentKind.EXPIRING):
        await repository.resolve_notifications(session, incident.id, now)
    event = closed_event(incident)
    if event is not None:
        await emit(session, incident, event, now)


@dataclass(frozen=True, slots=True)
class Facts:
    """What every channel says about one event."""

    event: Event
    incident: Incident
    provider_name: str
    message: str
    clients: list[tuple[uuid.UUID, str]]
    connector_id: uuid.UUID | None


async def emit(session: AsyncSession, incident: Incident, event: Event, now: datetime) -> None:
    """Write the event's outbox rows for every organization it concerns."""
    organizations = (
        [incident.organization_id]
        if incident.organization_id is not None
        else list(await repository.organizations_using(session, incident.provider))
    )
    facts = await _facts(session, incident, event)
    for organization_id in organizations:
        await _for_organization(session, organization_id, facts, now)


async def _facts(session: AsyncSession, incident: Incident, event: Event) -> Facts:
    info = BY_KEY.get(incident.provider)
    name = info.name if info else incident.provider
    authorization = (
        await session.get(Authorization, incident.authorization_id)
        if incident.authorization_id
        else None
    )
    who = authorization.external_user_name if authorization else None
    return Facts(
        event,
        incident,
        name,
        describe(event, name, who, incident.message),
        (await health_repository.affected_clients(session, [incident.id]))[incident.id],
        authorization.connector_id if authorization else None,
    )


def describe(event: Event, provider: str, who: str | None, detail: str) -> str:
    """One sentence a member understands at a glance."""
    whose = f"{provider} access of {who}" if who else f"{provider} access"
    return {
        Event.AUTHORIZATION_LAPSED: f"The {whose} needs reconnecting: {detail}",
        Event.CONNECTION_LAPSED: f"A {provider} connection needs reconnecting: {detail}",
        Event.AUTHORIZATION_EXPIRING: detail,
        Event.AUTHORIZATION_RESTORED: f"The {whose} works again.",
        Event.CONNECTION_RESTORED: f"A {provider} connection works again.",
        Event.PROVIDER_OUTAGE: f"{provider} is having an outage: {detail}",
        Event.PROVIDER_OUTAGE_ENDED: f"The {provider} outage is over.",
    }[event]


@dataclass(frozen=True, slots=True)
class Audience:
    """Who in an organization may hear of an event: its members, the clients each limited member
    sees, the members' choices for the event, and the endpoints subscribed to it."""

    members: Sequence[Member]
    access: dict[uuid.UUID, set[uuid.UUID]]
    chosen: dict[tuple[uuid.UUID, str], bool]
    endpoints: list[WebhookEndpoint]


# The audiences read in a session's current transaction, by organization and event. Forgotten
# when the transaction ends and whenever the session writes members, their client access, their
# preferences or webhook endpoints, so a cached audience is always what a fresh read would give.
_AUDIENCES = "tether.notifications.outbox.audiences"
_SOURCES = (Member, MemberClientAccess, NotificationPreference, WebhookEndpoint)
_SOURCE_TABLES = frozenset(model.__tablename__ for model in _SOURCES)


async def audience(session: AsyncSession, organization_id: uuid.UUID, event: Event) -> Audience:
    """The organization's audience for the event, read once per transaction."""
    cache: dict[tuple[uuid.UUID, Event], Audience] = session.info.setdefault(_AUDIENCES, {})
    found = cache.get((organization_id, event))
    if found is not None:
        return found
    members = await repository.members_of(session, organization_id)
    limited = [m.id for m in members if not m.all_clients]
    found = Audience(
        members,
        await repository.client_access(session, limited) if limited else {},
        await repository.preferences(session, [m.id for m in members], event),
        await repository.subscribed_endpoints(session, organization_id, event),
    )
    # Set again: a write between the reads above may have dropped the cache.
    session.info.setdefault(_AUDIENCES, {})[(organization_id, event)] = found
    return found


def _forget_audiences(session: Session) -> None:
    session.info.pop(_AUDIENCES, None)


@sa_event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # Only the outermost transaction: a savepoint's end (each incident opens one) undoes no
    # read, and whatever it wrote to the audience's tables already dropped the cache.
    if transaction.parent is None:
        _forget_audiences(session)


@sa_event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    if _AUDIENCES in session.info and any(
        isinstance(instance, _SOURCES)
        for instance in chain(session.new, session.dirty, session.deleted)
    ):
        _forget_audiences(session)


@sa_event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if _AUDIENCES not in state.session.info:
        return
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if table is None or getattr(table, "name", None) in _SOURCE_TABLES:
            _forget_audiences(state.session)


async def _for_organization(
    session: AsyncSession, organization_id: uuid.UUID, facts: Facts, now: datetime
) -> None:
    found = await audience(session, organization_id, facts.event)
    members, access, chosen = found.members, found.access, found.chosen
    affected = {client_id for client_id, _ in facts.clients}

    provider_wide = facts.incident.organization_id is None

    def sees(member: Member) -> bool:
        # Provider-wide events concern everyone; others, whoever sees an affected client.
        return member.all_clients or provider_wide or bool(access.get(member.id, set()) & affected)

    def wants(member: Member, channel: Channel, default: bool) -> bool:
        return chosen.get((member.id, channel), default)

    in_app = [
        m for m in members
        if m.role in (Role.ADMIN, Role.STAFF) and sees(m) and wants(m, Channel.IN_APP, True)
    ]  # fmt: skip
    email = [
        m for m in members
        if sees(m) and wants(m, Channel.EMAIL, m.id == facts.connector_id)
    ]  # fmt: skip
    base = {
        "organization_id": organization_id,
        "incident_id": facts.incident.id,
        "event": facts.event.value,
        "provider": facts.incident.provider,
    }
    await insert_ignoring_conflicts(
        session,
        Notification,
        [{**base, "id": uuid.uuid4(), "member_id": m.id, "message": facts.message,
          "created_at": now} for m in in_app],
    )  # fmt: skip
    grouping = (
        BY_KEY[facts.incident.provider].email_grouping
        if facts.incident.provider in BY_KEY
        else "individual"
    )
    await insert_ignoring_conflicts(
        session,
        EmailDelivery,
        [{**base, "id": uuid.uuid4(), "member_id": m.id, "grouping": grouping, "due_at": now,
          "created_at": now, "attempts": 0} for m in email],
    )  # fmt: skip
    endpoints = found.endpoints
    payload = webhook_payload(facts, now, organization_id)
    await insert_ignoring_conflicts(
        session,
        WebhookDelivery,
        [{"id": uuid.uuid4(), "organization_id": organization_id, "endpoint_id": e.id,
          "incident_id": facts.incident.id, "event": facts.event.value, "payload": payload,
          "created_at": now, "next_attempt_at": now, "attempts": 0} for e in endpoints],
    )  # fmt: skip


def webhook_payload(facts: Facts, now: datetime, organization_id: uuid.UUID) -> dict[str, object]:
    """The JSON body of the event, as endpoints receive it."""
    incident = facts.incident
    return {
        "event": facts.event.value,
        "occurred_at": now.isoformat(),
        "organization_id": str(organization_id),
        "message": facts.message,
        "incident": {
            "id": str(incident.id),
            "scope": incident.scope,
            "kind": incident.kind,
            "provider": incident.provider,
            "reason": incident.reason,
            "message": incident.message,
            "authorization_id": str(incident.authorization_id)
            if incident.authorization_id
            else None,
            "connection_id": str(incident.connection_id) if incident.connection_id else None,
            "opened_at": incident.opened_at.isoformat(),
            "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
            "affected_clients": [{"id": str(i), "name": n} for i, n in facts.clients],
        },
    }
