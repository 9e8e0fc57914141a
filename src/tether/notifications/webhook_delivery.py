"""Webhook delivery: events POSTed to endpoints, signed, retried with back-off, given up on.

Delivery
--------
Any 2xx answer delivers the event. Anything else (another status, a redirect, no answer within
10 s, a refused connection, a refused target) counts as a failed attempt: the next comes after
30 s, doubling up to an hour, with jitter (a `Retry-After` answer is honoured, up to an hour),
until a day after the event; the attempt that fails after that abandons the delivery. Each
delivery keeps its attempt count, the last status code, the last error as a short fixed reason
(`kit.outbound`: "answered 500", "timed out", "refused: address not allowed", ...; never what
the target said) and when it was delivered or abandoned.
Deliveries are sent concurrently, so events can arrive out of order (after an outage of the
receiver especially): the payload's `occurred_at` tells which came first.

The scheduler hands due deliveries out in batches (`DELIVERIES`, see `worker/queue.py`);
`deliver` (the worker's job) re-reads each row, so a delivered row is never sent again however
many jobs name it, and claims it before sending, so two workers never send one delivery at once.
Deliveries wait in the database for as long as the broker or a receiver is away.
Deliveries of a paused (inactive) endpoint wait too, and go out when it is active again.

Settings are module constants for now (see below), except the scheduler's batch and dispatch
timeout, shared with the health engine, and whether private targets are allowed.
"""

import asyncio
import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tether import metrics, vault
from tether.config import Settings
from tether.db import utcnow
from tether.kit import outbound
from tether.kit.backoff import Backoff
from tether.kit.crypto import Sealed
from tether.models import WebhookDelivery
from tether.notifications import webhook_signing
from tether.notifications import webhooks_repository as repository
from tether.notifications.webhooks import TEST_EVENT, target_policy
from tether.worker import queue
from tether.worker.queue import DueWork, Retries

log = logging.getLogger(__name__)

DELIVER_ACTOR = "notifications.deliver_webhooks"
CONCURRENCY = 16
TIMEOUT_SECONDS = 10.0
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_MAX_SECONDS = 3600.0
GIVE_UP_AFTER = timedelta(days=1)
USER_AGENT = "Tether-Webhooks/1"
_BACKOFF = Backoff(
    base=timedelta(seconds=BACKOFF_BASE_SECONDS),
    cap=timedelta(seconds=BACKOFF_MAX_SECONDS),
    jitter=(0.8, 1.2),
)
RETRIES = Retries(_BACKOFF, give_up_after=GIVE_UP_AFTER)
# The scheduler hands due deliveries out; a lost job's are due again after the dispatch timeout.
DELIVERIES = DueWork(DELIVER_ACTOR, repository.due_delivery_ids, repository.postpone)


def body_of(delivery: WebhookDelivery) -> bytes:
    """What is POSTed: the stored payload, with the delivery's id, as compact JSON."""
    document = {**delivery.payload, "delivery_id": str(delivery.id)}
    return json.dumps(document, separators=(",", ":")).encode()


async def deliver(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, ids: list[str]
) -> None:
    """Attempt each delivery once, concurrently, each failure isolated from the others, to the
    targets the settings allow.

    The batch is read and claimed in one transaction, and the attempts recorded in one more."""
    held = queue.holds(utcnow(), settings)
    wanted = [uuid.UUID(raw_id) for raw_id in dict.fromkeys(ids)]
    async with sessions.begin() as session:
        found = await repository.pending_with_endpoints(session, wanted)
        claimed = await repository.claim_many(
            session,
            [delivery.id for delivery, _ in found],
            unless_after=held.claimable_until,
            until=held.until,
        )
        pendings = [
            Pending(
                delivery.id,
                delivery.event,
                body_of(delivery),
                delivery.created_at,
                delivery.attempts,
                endpoint.url,
                endpoint.secret,
            )
            for delivery, endpoint in found
            if delivery.id in claimed
        ]
    # The rest are delivered, abandoned, gone, paused, or another worker is attempting them.
    if not pendings:
        return
    gate = asyncio.Semaphore(CONCURRENCY)
    policy = target_policy(settings)
    headers = {"User-Agent": USER_AGENT}

    async def one(http: httpx.AsyncClient, pending: Pending) -> Outcome:
        async with gate:
            return await _attempt(http, policy, pending)

    async with outbound.client(policy, timeout=TIMEOUT_SECONDS, headers=headers) as http:
        outcomes = await asyncio.gather(*(one(http, p) for p in pendings))
    async with sessions.begin() as session:
        await repository.record_attempts(
            session, [{"id": p.id, **asdict(o)} for p, o in zip(pendings, outcomes, strict=True)]
        )
    for pending, outcome in zip(pendings, outcomes, strict=True):
        _count(pending, outcome)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST came to."""

    status_code: int | None
    error: str | None = None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class Pending:
    """What an attempt needs of a delivery and its endpoint, read before sending."""

    id: uuid.UUID
    event: str
    body: bytes
    created_at: datetime
    attempts: int
    url: str
    secret: Sealed


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an attempt changes on its delivery."""

    status_code: int | None
    error: str | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    abandoned_at: datetime | None


async def _attempt(http: httpx.AsyncClient, policy: outbound.Policy, pending: Pending) -> Outcome:
    """One POST of a claimed delivery, and what it changes on the row (never raises)."""
    try:
        attempt = await _post(http, policy, pending, vault.reveal(pending.secret))
    except Exception:
        log.exception("Could not attempt webhook delivery %s", pending.id)
        attempt = Attempt(None, outbound.INTERNAL)
    if not attempt.delivered:
        log.info("Webhook delivery %s failed: %s", pending.id, attempt.error)
    return _outcome(pending, attempt, utcnow())


async def _post(
    http: httpx.AsyncClient, policy: outbound.Policy, pending: Pending, secret: str
) -> Attempt:
    """One POST; what it came to is told in fixed words (`kit.outbound`): keeping what the target
    said would let whoever sets the URL read what any service Tether can reach answers."""
    signing = webhook_signing.headers(
        secret,
        delivery_id=str(pending.id),
        event=pending.event,
        body=pending.body,
        at=int(time.time()),
    )
    headers = {"Content-Type": "application/json", **signing}
    try:
        # Judged again now: the rules or the settings may have changed since it was saved.
        outbound.check_url(pending.url, policy)
        async with (
            asyncio.timeout(TIMEOUT_SECONDS),
            http.stream("POST", pending.url, content=pending.body, headers=headers) as response,
        ):
            code = response.status_code
            if 200 <= code < 300:
                return Attempt(code)
            after = retry_after(response.headers.get("retry-after"))
            return Attempt(code, outbound.answered(code), after)
    except (
        outbound.Refused,
        outbound.Unresolved,
        TimeoutError,
        httpx.HTTPError,
        httpx.InvalidURL,
    ) as error:
        return Attempt(None, outbound.failure_reason(error))


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (a number or an HTTP date), within [1 s, 1 h]."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            at = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if at.tzinfo is None:
            return None
        seconds = (at - (now or utcnow())).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 1.0), BACKOFF_MAX_SECONDS)


def _outcome(pending: Pending, attempt: Attempt, now: datetime) -> Outcome:
    if attempt.delivered:
        return Outcome(attempt.status_code, None, now, None, None)
    next_at = RETRIES.next_try(
        pending.attempts + 1, now, since=pending.created_at, retry_after=attempt.retry_after
    )
    if pending.event == TEST_EVENT or next_at is None:
        return Outcome(attempt.status_code, attempt.error, None, None, now)
    return Outcome(attempt.status_code, attempt.error, None, next_at, None)


def _count(pending: Pending, outcome: Outcome) -> None:
    """An attempt recorded: its failure by reason, or its delivery's lag since the event."""
    if outcome.delivered_at is not None:
        lag = (outcome.delivered_at - pending.created_at).total_seconds()
        metrics.DELIVERY_LAG.labels("webhook").observe(max(lag, 0.0))
    else:
        metrics.WEBHOOK_FAILURES.labels(outcome.error or "unknown").inc()
