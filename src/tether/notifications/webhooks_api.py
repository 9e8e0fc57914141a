"""/api/v1/webhooks: an organization's webhook endpoints and their delivery logs (admins only)."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import Field

from tether.deps import ActorApart, CurrentActor, SessionDep, SessionsDep, SettingsDep
from tether.kit.inputs import Cursor, Label, Limit
from tether.kit.schemas import Counted, ListOf, Schema
from tether.models import Event, WebhookDelivery, WebhookEndpoint
from tether.notifications import webhook_delivery, webhooks

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class WebhookRead(Schema):
    id: uuid.UUID
    url: str
    description: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookWithSecret(WebhookRead):
    secret: str = Field(
        description="Signs every delivery (`webhook-signature`, as Standard Webhooks has it, "
        "and the older `Tether-Signature`). Shown only in this answer."
    )


# What a schema can say of a receiver's URL; where its name leads is checked on saving and at
# every send (docs/notifications.md), and a refused address is a 422 naming `url`.
ReceiverUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        # In the schema only: the check itself says which rule a URL breaks, in words.
        json_schema_extra={"pattern": r"^https?://[^\s/?#@]+(/[^\s]*)?$"},
        description="An http:// or https:// URL of a public address (https where Tether is).",
    ),
]


class WebhookCreate(Schema):
    url: ReceiverUrl
    description: Label = ""
    events: list[Event] = Field(min_length=1)


class WebhookUpdate(Schema):
    url: ReceiverUrl | None = None
    description: Label | None = None
    events: list[Event] | None = Field(default=None, min_length=1)
    active: bool | None = None


class DeliveryRead(Schema):
    id: uuid.UUID
    event: str
    incident_id: uuid.UUID | None
    status: str = Field(description="pending, delivered or abandoned.")
    created_at: datetime
    attempts: int
    last_status_code: int | None
    last_error: str | None = Field(
        description="Why the last attempt failed, in a few fixed words (e.g. `answered 500`, "
        "`timed out`, `refused: address not allowed`); never what the target said."
    )
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    abandoned_at: datetime | None


def webhook_read(endpoint: WebhookEndpoint) -> WebhookRead:
    return WebhookRead(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        events=list(endpoint.events),
        active=endpoint.active,
        created_at=endpoint.created_at,
    )


def with_secret(endpoint: WebhookEndpoint, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**webhook_read(endpoint).model_dump(), secret=secret)


def delivery_read(delivery: WebhookDelivery) -> DeliveryRead:
    return DeliveryRead(
        id=delivery.id,
        event=delivery.event,
        incident_id=delivery.incident_id,
        status=webhooks.delivery_status(delivery),
        created_at=delivery.created_at,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=webhooks.shown_error(delivery),
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at,
        abandoned_at=delivery.abandoned_at,
    )


def _url_refused(error: webhooks.InvalidUrl) -> RequestValidationError:
    """A refused URL, told as any other field that is not valid: naming `url`."""
    return RequestValidationError(
        [{"loc": ("body", "url"), "msg": error.problem, "type": "value_error"}]
    )


@router.get("")
async def list_webhooks(session: SessionDep, actor: CurrentActor) -> Counted[WebhookRead]:
    endpoints = await webhooks.list_endpoints(session, actor=actor)
    return Counted(data=[webhook_read(e) for e in endpoints], total=len(endpoints))


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_webhook(
    session: SessionDep, actor: CurrentActor, settings: SettingsDep, body: WebhookCreate
) -> WebhookWithSecret:
    """Add an endpoint. The answer carries its signing secret, which is never shown again. The
    URL must reach a public address (see the webhooks documentation)."""
    try:
        endpoint, secret = await webhooks.create_endpoint(
            session,
            actor=actor,
            settings=settings,
            url=body.url,
            description=body.description,
            events=body.events,
        )
    except webhooks.InvalidUrl as error:
        raise _url_refused(error) from None
    return with_secret(endpoint, secret)


@router.get("/{endpoint_id}")
async def get_webhook(
    session: SessionDep, actor: CurrentActor, endpoint_id: uuid.UUID
) -> WebhookRead:
    return webhook_read(await webhooks.get_endpoint(session, actor=actor, endpoint_id=endpoint_id))


@router.patch("/{endpoint_id}")
async def update_webhook(
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    endpoint_id: uuid.UUID,
    body: WebhookUpdate,
) -> WebhookRead:
    try:
        endpoint = await webhooks.update_endpoint(
            session,
            actor=actor,
            settings=settings,
            endpoint_id=endpoint_id,
            url=body.url,
            description=body.description,
            events=body.events,
            active=body.active,
        )
    except webhooks.InvalidUrl as error:
        raise _url_refused(error) from None
    return webhook_read(endpoint)


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(session: SessionDep, actor: CurrentActor, endpoint_id: uuid.UUID) -> None:
    await webhooks.delete_endpoint(session, actor=actor, endpoint_id=endpoint_id)


@router.post("/{endpoint_id}/rotate-secret")
async def rotate_secret(
    session: SessionDep, actor: CurrentActor, endpoint_id: uuid.UUID
) -> WebhookWithSecret:
    """A new signing secret, shown only in this answer; the old one stops signing at once."""
    endpoint, secret = await webhooks.rotate_secret(session, actor=actor, endpoint_id=endpoint_id)
    return with_secret(endpoint, secret)


@router.post("/{endpoint_id}/test", status_code=status.HTTP_201_CREATED)
async def test_webhook(
    request: Request, sessions: SessionsDep, actor: ActorApart, endpoint_id: uuid.UUID
) -> DeliveryRead:
    """Send a `webhook.test` event now; the answer is its delivery, with what came of it."""
    async with sessions.begin() as session:
        delivery = await webhooks.create_test_delivery(
            session, actor=actor, endpoint_id=endpoint_id
        )
    # The delivery is recorded in a transaction of its own; none is held while it is POSTed.
    runtime = request.app.state.runtime
    await webhook_delivery.deliver(runtime.sessions, runtime.settings, [str(delivery.id)])
    async with sessions.begin() as session:
        sent = await webhooks.get_delivery(
            session, actor=actor, endpoint_id=endpoint_id, delivery_id=delivery.id
        )
        return delivery_read(sent)


@router.get("/{endpoint_id}/deliveries")
async def list_deliveries(
    session: SessionDep,
    actor: CurrentActor,
    endpoint_id: uuid.UUID,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> ListOf[DeliveryRead]:
    """The endpoint's delivery log, newest first: each event, its attempts and their outcome."""
    page = await webhooks.list_deliveries(
        session, actor=actor, endpoint_id=endpoint_id, cursor=cursor, limit=limit
    )
    return ListOf(data=[delivery_read(d) for d in page.items], next_cursor=page.next_cursor)
