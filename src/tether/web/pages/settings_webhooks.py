"""Settings, Webhooks: the organization's endpoints, their signing secrets and delivery logs.

A signing secret is shown once, in the dialog that answers creating the endpoint or rotating its
secret; it is never in a page. The delivery log is read a keyset page at a time, newest first.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tether.deps import SessionDep, SessionsDep, SettingsDep
from tether.kit.inputs import VISIBLE_TEXT
from tether.models import Event, WebhookEndpoint
from tether.notifications import webhook_delivery, webhooks
from tether.web.auth import PageActor, PageActorApart
from tether.web.pages.notifications import EVENTS
from tether.web.params import Cursor
from tether.web.responses import CHANGED, changed
from tether.web.templating import render

router = APIRouter(include_in_schema=False)

DOING = "see or change Settings"
DELIVERY_STATUS = {
    "delivered": "Delivered",
    "pending": "Waiting to retry",
    "abandoned": "Gave up",
}
PAGE_SIZE = 50

Url = Annotated[str, Form(min_length=1, max_length=2000)]
Description = Annotated[str, Form(max_length=200), VISIBLE_TEXT]
Events = Annotated[list[Event] | None, Form(alias="events")]


@router.get("/settings/webhooks")
async def webhooks_page(request: Request, session: SessionDep, actor: PageActor) -> Response:
    actor.require_admin(DOING)
    endpoints = await webhooks.list_endpoints(session, actor=actor)
    context = {"section": "webhooks", "endpoints": endpoints, "events": EVENTS}
    return render(request, "settings/webhooks.html", context)


@router.get("/settings/webhooks/new")
async def new_webhook_dialog(request: Request, actor: PageActor) -> Response:
    actor.require_admin(DOING)
    return render(request, "settings/webhook_form.html", {"endpoint": None, "events": EVENTS})


@router.post("/settings/webhooks")
async def add_webhook(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    settings: SettingsDep,
    url: Url,
    events: Events = None,
    description: Description = "",
) -> Response:
    """Add an endpoint; the answer is the dialog that shows its signing secret, once."""
    endpoint, secret = await webhooks.create_endpoint(
        session,
        actor=actor,
        settings=settings,
        url=url,
        description=description,
        events=events or [],
    )
    return _secret_dialog(request, endpoint, secret, created=True)


@router.get("/settings/webhooks/{endpoint_id}")
async def deliveries_page(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    endpoint_id: uuid.UUID,
    cursor: Cursor = None,
) -> Response:
    """One endpoint and its delivery log, newest first."""
    actor.require_admin(DOING)
    endpoint = await webhooks.get_endpoint(session, actor=actor, endpoint_id=endpoint_id)
    page = await webhooks.list_deliveries(
        session, actor=actor, endpoint_id=endpoint_id, cursor=cursor, limit=PAGE_SIZE
    )
    context = {
        "section": "webhooks",
        "endpoint": endpoint,
        "events": EVENTS,
        "deliveries": [
            (d, webhooks.delivery_status(d), webhooks.shown_error(d)) for d in page.items
        ],
        "statuses": DELIVERY_STATUS,
        "next_cursor": page.next_cursor,
        "first_page": cursor is None,
    }
    return render(request, "settings/webhook.html", context)


@router.get("/settings/webhooks/{endpoint_id}/edit")
async def edit_webhook_dialog(
    request: Request, session: SessionDep, actor: PageActor, endpoint_id: uuid.UUID
) -> Response:
    endpoint = await webhooks.get_endpoint(session, actor=actor, endpoint_id=endpoint_id)
    return render(request, "settings/webhook_form.html", {"endpoint": endpoint, "events": EVENTS})


@router.post("/settings/webhooks/{endpoint_id}")
async def change_webhook(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    settings: SettingsDep,
    endpoint_id: uuid.UUID,
    url: Url,
    events: Events = None,
    description: Description = "",
) -> Response:
    endpoint = await webhooks.update_endpoint(
        session,
        actor=actor,
        settings=settings,
        endpoint_id=endpoint_id,
        url=url,
        description=description,
        events=events or [],
    )
    return changed(request, f"Saved the webhook to {endpoint.url}.")


@router.post("/settings/webhooks/{endpoint_id}/active")
async def set_active(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    settings: SettingsDep,
    endpoint_id: uuid.UUID,
    active: Annotated[bool, Form()],
) -> Response:
    endpoint = await webhooks.update_endpoint(
        session, actor=actor, settings=settings, endpoint_id=endpoint_id, active=active
    )
    if active:
        return changed(request, f"The webhook to {endpoint.url} is active: events go out again, "
                                "those that waited first.")  # fmt: skip
    return changed(request, f"The webhook to {endpoint.url} is paused: its events wait until "
                            "you resume it.")  # fmt: skip


@router.post("/settings/webhooks/{endpoint_id}/rotate-secret")
async def rotate_secret(
    request: Request, session: SessionDep, actor: PageActor, endpoint_id: uuid.UUID
) -> Response:
    endpoint, secret = await webhooks.rotate_secret(session, actor=actor, endpoint_id=endpoint_id)
    return _secret_dialog(request, endpoint, secret, created=False)


@router.post("/settings/webhooks/{endpoint_id}/delete")
async def delete_webhook(
    request: Request, session: SessionDep, actor: PageActor, endpoint_id: uuid.UUID
) -> Response:
    endpoint = await webhooks.get_endpoint(session, actor=actor, endpoint_id=endpoint_id)
    url = endpoint.url
    await webhooks.delete_endpoint(session, actor=actor, endpoint_id=endpoint_id)
    if request.headers.get("hx-current-url", "").rstrip("/").endswith(str(endpoint_id)):
        # Its own page is gone: go back to the list.
        return HTMLResponse("", headers={"HX-Redirect": "/settings/webhooks"})
    return changed(request, f"The webhook to {url} is deleted, with its delivery log.")


@router.post("/settings/webhooks/{endpoint_id}/test")
async def send_test(
    request: Request, sessions: SessionsDep, actor: PageActorApart, endpoint_id: uuid.UUID
) -> Response:
    """Send a `webhook.test` event now, and say what came of it."""
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
    if webhooks.delivery_status(sent) == "delivered":
        return changed(request, f"The test event was delivered: the endpoint answered HTTP "
                                f"{sent.last_status_code}.")  # fmt: skip
    reason = webhooks.shown_error(sent) or "no answer"
    context = {"message": f"The test event was not delivered: {reason}. "
                          "Test events are not retried; see the delivery log.",
               "error": True, "oob": True}  # fmt: skip
    return render(request, "partials/flash.html", context,
                  headers=CHANGED)  # fmt: skip


def _secret_dialog(
    request: Request, endpoint: WebhookEndpoint, secret: str, *, created: bool
) -> Response:
    context = {"endpoint": endpoint, "secret": secret, "created": created}
    # The list behind the dialog reloads; the secret stays only in this dialog.
    headers = {**CHANGED, "Cache-Control": "no-store"}
    return render(request, "settings/webhook_secret.html", context, headers=headers)
