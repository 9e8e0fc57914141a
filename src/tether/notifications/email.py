"""Email: the outbox's email rows become messages, sent by SMTP or written as .eml files.

The scheduler hands out due rows with `take_due`; a worker sends them with `send_emails`. A row
is claimed before it is sent, marked sent in its own commit as soon as the server accepted it,
and a failure only moves its due time forward. So a job can run again, or twice at once, and an
SMTP server can be down for a while: each row is sent once, when it can be.

A row is abandoned (`abandoned_at`, with the reason in `last_error`) when the server refuses its
recipient or message for good (a 5xx answer to RCPT or DATA), or after `email_max_attempts`
failures of any other kind (4xx, no connection, time-outs). Admins see abandoned rows in the
API and in Settings; nothing picks them up again.

Grouping comes from the provider catalog: an `individual` row is one email; `digest` rows of one
member and provider written within the digest window go out together, once the window is over.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tether import metrics
from tether.config import Settings
from tether.db import utcnow
from tether.health import repository as health_repository
from tether.kit.backoff import Backoff
from tether.models import Authorization, EmailDelivery, Event, Incident, Member
from tether.notifications import email_repository, repository
from tether.notifications.email_repository import DIGEST
from tether.notifications.links import LIFETIME, reconnect_url
from tether.notifications.mailer import Mailer, classify, compose
from tether.notifications.outbox import RESTORING
from tether.notifications.service import LAPSES, reconnect_target
from tether.providers.catalog import BY_KEY
from tether.worker import queue
from tether.worker.job import Job
from tether.worker.queue import Retries

log = logging.getLogger(__name__)

SEND_ACTOR = "notifications.send_emails"
RESTORED = (Event.AUTHORIZATION_RESTORED, Event.CONNECTION_RESTORED)
# Events whose incident message is worth repeating: what the provider said, or what is wrong.
TOLD_WITH_DETAIL = (*LAPSES, Event.PROVIDER_OUTAGE)
RETRY_CAP = timedelta(minutes=15)
# A digest lists this many events in full, the lapses still to fix first; the rest it counts,
# with a link to the screen that lists them all. Gmail clips an email's HTML beyond 102 KB, about
# 50 events of this template (88 KiB); a lapse storm's digest listed 1,575 in 2.8 MB, of which a
# reader saw the first screens and the mail server carried the rest for nothing.
DIGEST_LISTED = 40

# -- The scheduler's side ---------------------------------------------------------------------


async def take_due(session: AsyncSession, now: datetime, settings: Settings) -> list[Job]:
    """Due emails, handed out in this transaction (`worker/queue.py`): individual emails in
    jobs of up to `queue.BATCH` (one claim and one set of queries for all of them), and one job
    per digest."""
    window_start = now - timedelta(seconds=settings.email_digest_window_seconds)
    individual = await email_repository.due_individual_ids(session, now, settings.scheduler_batch)
    digests = await email_repository.due_digest_groups(
        session, now, window_start, settings.scheduler_batch
    )
    due = [*individual, *(i for group in digests for i in group)]
    taken = set(await queue.hand_out(session, due, email_repository.hand_out, now, settings))
    jobs = queue.jobs(SEND_ACTOR, [i for i in individual if i in taken])
    for group in digests:
        jobs += queue.jobs(SEND_ACTOR, [i for i in group if i in taken], batch=max(1, len(group)))
    return jobs


def retries(settings: Settings) -> Retries:
    """The retry setting, doubling, up to 15 minutes; given up after the setting's tries."""
    base = timedelta(seconds=settings.email_retry_seconds)
    return Retries(Backoff(base, max(base, RETRY_CAP)), max_attempts=settings.email_max_attempts)


# -- The worker's side ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One event as an email tells it."""

    event: str
    title: str
    provider: str
    clients: list[str]
    connected_by: str | None
    account: str | None
    detail: str | None
    detail_label: str
    reconnect_url: str | None
    # A lapse that works again by the time the email goes out.
    resolved: bool
    at: str


@dataclass(slots=True)
class Draft:
    """One email to one member, telling of one or more outbox rows."""

    ids: list[uuid.UUID]
    member: Member
    provider: str  # the provider's key
    items: list[Item] = field(default_factory=list)
    written: list[datetime] = field(default_factory=list)  # when each row was written


async def send_emails(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, ids: list[str]
) -> None:
    """Send the emails of these outbox rows that are still unsent; safe to run again.

    Rows already sent, or held by another worker sending them right now, are left alone. Each
    email is marked sent by a statement that commits as it runs, right after the server took
    it; a failed one is retried later, with back-off."""
    held = queue.holds(utcnow(), settings)
    async with sessions.begin() as session:
        claimed = await email_repository.claim(
            session,
            [uuid.UUID(i) for i in ids],
            claimable_until=held.claimable_until,
            until=held.until,
        )
    if not claimed:
        log.debug("No unsent email among %d outbox rows", len(ids))
        return
    async with sessions() as session:
        drafts = await _drafts(session, settings, claimed)
    mailer = Mailer(settings)
    # One connection marks the job's emails sent, each mark committing by itself the moment
    # its UPDATE runs (autocommit): no transaction, pool checkout or ping per email.
    marks = sessions()
    try:
        await marks.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        for draft in drafts:
            try:
                message = render(draft, settings)
                await mailer.deliver(message, draft.member.email)
            except Exception as error:
                await _failed(sessions, settings, draft, error)
            else:
                sent_at = utcnow()
                await email_repository.mark_sent(marks, draft.ids, sent_at)
                for written in draft.written:
                    lag = (sent_at - written).total_seconds()
                    metrics.DELIVERY_LAG.labels("email").observe(max(lag, 0.0))
                log.info(
                    "Sent email %s (%d events) to member %s",
                    message["Message-ID"],
                    len(draft.ids),
                    draft.member.id,
                )
    finally:
        await marks.close()
        await mailer.close()


async def _failed(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    draft: Draft,
    error: Exception,
) -> None:
    """Retry the draft's rows later with back-off, or abandon those that cannot be sent: all of
    them on a permanent refusal, else each row that used up its tries (a digest can hold rows
    of different ages)."""
    permanent, reason = classify(error, settings)
    rule = retries(settings)
    async with sessions.begin() as session:
        rows = await email_repository.deliveries(session, draft.ids)
        now = utcnow()
        spent = [r for r in rows if permanent or rule.next_try(r.attempts, now) is None]
        retried = [r for r in rows if r not in spent]
        if spent:
            await email_repository.mark_abandoned(session, [r.id for r in spent], reason, now)
        if retried:
            attempts = max(r.attempts for r in retried)
            retry_at = rule.next_try(attempts, now) or now
            ids = [r.id for r in retried]
            await email_repository.mark_failed(session, ids, reason, retry_at)
    if spent:
        log.warning(
            "Email to member %s abandoned after %d attempt(s): %s",
            draft.member.id,
            max(r.attempts for r in spent),
            reason,
        )
    if retried:
        log.warning(
            "Email to member %s failed (attempt %d), retrying in %ds: %s",
            draft.member.id,
            attempts,
            (retry_at - now).total_seconds(),
            reason,
        )


async def _drafts(session: AsyncSession, settings: Settings, ids: set[uuid.UUID]) -> list[Draft]:
    """The emails these rows make: one per individual row, one per member and digest provider."""
    rows = await email_repository.deliveries(session, list(ids))
    members = await email_repository.members_by_id(session, list({r.member_id for r in rows}))
    incidents = await repository.incidents_by_id(session, list({r.incident_id for r in rows}))
    authorizations = await email_repository.authorizations_by_id(
        session, [i.authorization_id for i in incidents.values() if i.authorization_id]
    )
    connectors = await email_repository.members_by_id(
        session, [a.connector_id for a in authorizations.values() if a.connector_id]
    )
    limited = [m.id for m in members.values() if not m.all_clients]
    access = await repository.client_access(session, limited) if limited else {}
    clients = await health_repository.affected_clients(session, list(incidents))

    drafts: dict[object, Draft] = {}
    for row in rows:
        member = members.get(row.member_id)
        incident = incidents.get(row.incident_id)
        if member is None or incident is None:
            continue
        key: object = (row.member_id, row.provider) if row.grouping == DIGEST else row.id
        draft = drafts.setdefault(key, Draft([], member, row.provider))
        authorization = (
            authorizations.get(incident.authorization_id) if incident.authorization_id else None
        )
        connector = (
            connectors.get(authorization.connector_id)
            if authorization and authorization.connector_id
            else None
        )
        visible = [
            name
            for client_id, name in clients[incident.id]
            if member.all_clients or client_id in access.get(member.id, set())
        ]
        draft.ids.append(row.id)
        draft.written.append(row.created_at)
        draft.items.append(
            _item(row, incident, authorization, connector, visible, settings.resolved_public_url)
        )
    return list(drafts.values())


def _item(
    row: EmailDelivery,
    incident: Incident,
    authorization: Authorization | None,
    connector: Member | None,
    clients: list[str],
    public_url: str,
) -> Item:
    event = Event(row.event)
    info = BY_KEY.get(row.provider)
    provider = info.name if info else row.provider
    who = authorization.external_user_name if authorization else None
    still_open = incident.closed_at is None
    target = reconnect_target(incident)
    link = (
        reconnect_url(public_url, target)
        if target is not None and event in LAPSES and still_open
        else None
    )
    resolved = event in LAPSES and incident.closed_how in RESTORING
    at = incident.closed_at if event in RESTORED and incident.closed_at else incident.opened_at
    return Item(
        event=event.value,
        title=title(event, provider, who, resolved=resolved),
        provider=provider,
        clients=clients,
        connected_by=f"{connector.name} ({connector.email})" if connector else None,
        account=who,
        detail=(incident.message or None) if event in TOLD_WITH_DETAIL else None,
        detail_label=f"{provider} said" if event == Event.AUTHORIZATION_LAPSED else "Details",
        reconnect_url=link,
        resolved=resolved,
        at=f"{at:%Y-%m-%d %H:%M} UTC",
    )


def title(event: Event, provider: str, who: str | None, *, resolved: bool = False) -> str:
    """What happened, in one sentence."""
    return f"{_subject_of(event, provider, who, resolved=resolved)}."


def _subject_of(event: Event, provider: str, who: str | None, *, resolved: bool) -> str:
    whose = f"The {provider} access of {who}" if who else f"The {provider} access"
    if resolved:
        connection = event == Event.CONNECTION_LAPSED
        needed = f"A {provider} connection" if connection else whose
        return f"{needed} needed reconnecting and works again now"
    return {
        Event.AUTHORIZATION_LAPSED: f"{whose} needs reconnecting",
        Event.CONNECTION_LAPSED: f"A {provider} connection needs reconnecting",
        Event.AUTHORIZATION_EXPIRING: f"{whose} expires soon",
        Event.AUTHORIZATION_RESTORED: f"{whose} works again",
        Event.CONNECTION_RESTORED: f"A {provider} connection works again",
        Event.PROVIDER_OUTAGE: f"{provider} is having an outage",
        Event.PROVIDER_OUTAGE_ENDED: f"The {provider} outage is over",
    }[event]


def subject(items: Sequence[Item]) -> str:
    """The sentence of a single event, or for a digest the counts, e.g.
    "Snapchat Ads: 3 connections need reconnecting, 1 connection works again"."""
    if len(items) == 1:
        return items[0].title.rstrip(".")
    counts: dict[str, int] = {}
    for item in items:
        kind = _kind(Event(item.event))
        counts[kind] = counts.get(kind, 0) + 1
    parts = [
        f"{counts[kind]} {one if counts[kind] == 1 else many}"
        for kind, (one, many) in _PHRASES.items()
        if counts.get(kind)
    ]
    return f"{items[0].provider}: {', '.join(parts)}"


_PHRASES = {
    "lapsed": ("connection needs reconnecting", "connections need reconnecting"),
    "expiring": ("connection expires soon", "connections expire soon"),
    "restored": ("connection works again", "connections work again"),
    "outage": ("outage", "outages"),
    "outage_ended": ("outage is over", "outages are over"),
}


def _kind(event: Event) -> str:
    if event in (Event.AUTHORIZATION_LAPSED, Event.CONNECTION_LAPSED):
        return "lapsed"
    if event == Event.AUTHORIZATION_EXPIRING:
        return "expiring"
    if event in RESTORED:
        return "restored"
    return "outage" if event == Event.PROVIDER_OUTAGE else "outage_ended"


def render(draft: Draft, settings: Settings) -> Message:
    """The email: plain text and HTML from the templates, addressed to the member. A digest of
    more than `DIGEST_LISTED` events lists that many, those with a reconnect link first, and
    counts the rest beside a link to the provider's lapsed connections in Tether."""
    listed = sorted(draft.items, key=lambda item: item.reconnect_url is None)[:DIGEST_LISTED]
    public_url = settings.resolved_public_url
    context = {
        "member": draft.member,
        "items": listed,
        "total": len(draft.items),
        "more": len(draft.items) - len(listed),
        "more_url": f"{public_url}/connections?tab=needs_reconnect&provider={draft.provider}",
        "digest": len(draft.items) > 1,
        "public_url": public_url,
        "link_days": LIFETIME.days,
    }
    return compose(
        template="notification",
        context=context,
        subject=subject(draft.items),
        to=(draft.member.name, draft.member.email),
        key=draft.ids,
        settings=settings,
    )
