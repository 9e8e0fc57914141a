"""Webhooks: an organization's endpoints, their secrets, and their delivery logs.

What a receiver gets
--------------------
Each event is one `POST` of compact JSON (`Content-Type: application/json`): the event's
payload (see `outbox.webhook_payload`) with its `delivery_id` added, signed as Standard Webhooks
has it (`webhook-id`, `webhook-timestamp`, `webhook-signature`), with the older `Tether-*`
headers beside them for now (see `webhook_signing`). The delivery's id is the same on every
retry of it: a receiver that has already handled it should answer 2xx and do nothing more,
which makes a retry after a lost answer harmless. A secret is shown once, when the endpoint is
created or its secret rotated.

Where it may go
---------------
An endpoint's URL is judged by `kit.outbound`'s rules when it is saved and again at every
attempt, which connects only to addresses it judged (`target_policy` says how the settings bend
those rules). A name that does not resolve when it is saved is accepted: its DNS may come later.

How events are sent, retried and given up on is `webhook_delivery`.
"""

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from tether import vault
from tether.actor import Actor
from tether.audit import service as audit
from tether.config import Settings
from tether.db import utcnow
from tether.errors import Conflict, NotFound, Unprocessable
from tether.kit import outbound
from tether.kit.pagination import Page, Sort, decode_cursor, paginate
from tether.models import Event, WebhookDelivery, WebhookEndpoint
from tether.notifications import webhook_signing
from tether.notifications import webhooks_repository as repository

log = logging.getLogger(__name__)

TEST_EVENT = "webhook.test"
# Shown instead of a last error recorded before errors were fixed reasons: it may quote a target.
WITHHELD_ERROR = "failed"

_NEWEST_FIRST = Sort("created_at", descending=True)


class InvalidUrl(Unprocessable):
    """An endpoint URL that is refused; `problem` says why, for a person."""

    code = "invalid_url"

    def __init__(self, problem: str) -> None:
        super().__init__(f"The webhook URL is refused. {problem}")
        self.problem = problem


# Endpoints -------------------------------------------------------------------------------------


def target_policy(settings: Settings) -> outbound.Policy:
    """Where webhooks may go under these settings."""
    return outbound.Policy(
        allow_private=settings.webhooks_allow_private_targets,
        require_https=settings.resolved_public_url.lower().startswith("https://"),
    )


async def check_url(url: str, settings: Settings) -> str:
    """The URL, stripped, if webhooks may go there; else InvalidUrl (a 422 that says why)."""
    url = url.strip()
    try:
        await outbound.check_target(url, target_policy(settings))
    except outbound.Refused as refused:
        problem = refused.message
        if refused.allowable:
            problem += (
                " An operator can allow private addresses for a receiver hosted beside Tether "
                "(TETHER_WEBHOOKS_ALLOW_PRIVATE_TARGETS)."
            )
        raise InvalidUrl(problem) from None
    return url


def _event_names(events: Sequence[Event]) -> list[str]:
    if not events:
        raise Unprocessable("Subscribe the endpoint to at least one event.", code="no_events")
    chosen = set(events)
    return [event.value for event in Event if event in chosen]


async def create_endpoint(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    url: str,
    description: str,
    events: Sequence[Event],
) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint; returns it and its secret, which is shown this once."""
    actor.require_admin("manage webhooks")
    secret = webhook_signing.new_secret()
    endpoint = WebhookEndpoint(
        organization_id=actor.organization_id,
        url=await check_url(url, settings),
        description=description.strip(),
        events=_event_names(events),
        secret=vault.seal(secret),
        active=True,
        created_at=utcnow(),
    )
    session.add(endpoint)
    await session.flush()
    _audit(session, actor, "webhook.created", endpoint, events=endpoint.events)
    return endpoint, secret


async def list_endpoints(session: AsyncSession, *, actor: Actor) -> Sequence[WebhookEndpoint]:
    actor.require_admin("manage webhooks")
    return await repository.endpoints_of(session, actor.organization_id)


async def get_endpoint(
    session: AsyncSession, *, actor: Actor, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    """One of the organization's endpoints; any other is the same 404 as none."""
    actor.require_admin("manage webhooks")
    endpoint = await repository.get_endpoint(session, actor.organization_id, endpoint_id)
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


async def update_endpoint(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    endpoint_id: uuid.UUID,
    url: str | None = None,
    description: str | None = None,
    events: Sequence[Event] | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given; None leaves a field as it is. Pending deliveries follow the
    endpoint: they go to its new URL, and wait while it is paused."""
    endpoint = await get_endpoint(session, actor=actor, endpoint_id=endpoint_id)
    if url is not None:
        endpoint.url = await check_url(url, settings)
    if description is not None:
        endpoint.description = description.strip()
    if events is not None:
        endpoint.events = _event_names(events)
    if active is not None:
        endpoint.active = active
    await session.flush()
    _audit(session, actor, "webhook.updated", endpoint, events=endpoint.events)
    return endpoint


async def delete_endpoint(session: AsyncSession, *, actor: Actor, endpoint_id: uuid.UUID) -> None:
    """Remove an endpoint, its pending deliveries and its delivery log."""
    endpoint = await get_endpoint(session, actor=actor, endpoint_id=endpoint_id)
    _audit(session, actor, "webhook.deleted", endpoint)
    await session.delete(endpoint)
    await session.flush()


async def rotate_secret(
    session: AsyncSession, *, actor: Actor, endpoint_id: uuid.UUID
) -> tuple[WebhookEndpoint, str]:
    """A new secret, shown this once; the old one no longer signs anything from now on."""
    endpoint = await get_endpoint(session, actor=actor, endpoint_id=endpoint_id)
    secret = webhook_signing.new_secret()
    endpoint.secret = vault.seal(secret)
    await session.flush()
    _audit(session, actor, "webhook.secret_rotated", endpoint)
    return endpoint, secret


async def create_test_delivery(
    session: AsyncSession, *, actor: Actor, endpoint_id: uuid.UUID
) -> WebhookDelivery:
    """A `webhook.test` delivery, due now. It is attempted once, never retried."""
    endpoint = await get_endpoint(session, actor=actor, endpoint_id=endpoint_id)
    if not endpoint.active:
        raise Conflict(
            "This endpoint is paused: set it active to send it a test event.",
            code="endpoint_paused",
        )
    now = utcnow()
    delivery = WebhookDelivery(
        id=uuid.uuid4(),
        organization_id=endpoint.organization_id,
        endpoint_id=endpoint.id,
        incident_id=None,
        event=TEST_EVENT,
        payload={
            "event": TEST_EVENT,
            "occurred_at": now.isoformat(),
            "organization_id": str(endpoint.organization_id),
            "endpoint_id": str(endpoint.id),
            "message": "A test event from Tether: this endpoint receives Tether's webhooks.",
        },
        created_at=now,
        next_attempt_at=now,
        attempts=0,
    )
    session.add(delivery)
    await session.flush()
    return delivery


async def get_delivery(
    session: AsyncSession, *, actor: Actor, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    endpoint = await get_endpoint(session, actor=actor, endpoint_id=endpoint_id)
    delivery = await repository.get_delivery(session, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound("No such webhook delivery.")
    return delivery


async def list_deliveries(
    session: AsyncSession,
    *,
    actor: Actor,
    endpoint_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> Page[WebhookDelivery]:
    """The endpoint's delivery log, newest first."""
    endpoint = await get_endpoint(session, actor=actor, endpoint_id=endpoint_id)
    before = decode_cursor(cursor, _NEWEST_FIRST) if cursor else None
    rows = await repository.deliveries_page(session, endpoint.id, before=before, limit=limit)
    return paginate(rows, sort=_NEWEST_FIRST, limit=limit, key="created_at")


def delivery_status(delivery: WebhookDelivery) -> str:
    if delivery.delivered_at is not None:
        return "delivered"
    if delivery.abandoned_at is not None:
        return "abandoned"
    return "pending"


def shown_error(delivery: WebhookDelivery) -> str | None:
    """The delivery's last error as it may be shown: a fixed reason, never a target's words."""
    error = delivery.last_error
    if error is None or outbound.is_fixed_reason(error):
        return error
    return WITHHELD_ERROR


def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    endpoint: WebhookEndpoint,
    events: list[str] | None = None,
) -> None:
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor=actor.audit_name,
        action=action,
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        url=endpoint.url,
        events=events,
    )


# Delivery --------------------------------------------------------------------------------------
