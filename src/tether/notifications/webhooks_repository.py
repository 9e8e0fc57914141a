"""SQL for webhooks: endpoints, and the delivery rows the outbox writes for them."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tether.models import WebhookDelivery, WebhookEndpoint


async def endpoints_of(
    session: AsyncSession, organization_id: uuid.UUID
) -> Sequence[WebhookEndpoint]:
    stmt = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == organization_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return (await session.scalars(stmt)).all()


async def get_endpoint(
    session: AsyncSession, organization_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint | None:
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organization_id == organization_id
    )
    return await session.scalar(stmt)


async def get_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> WebhookDelivery | None:
    return await session.get(WebhookDelivery, delivery_id, populate_existing=True)


async def deliveries_page(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[WebhookDelivery]:
    """An endpoint's deliveries, newest first (one extra row tells whether a page follows)."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if before is not None:
        at, delivery_id = before
        stmt = stmt.where(
            (WebhookDelivery.created_at < at)
            | ((WebhookDelivery.created_at == at) & (WebhookDelivery.id < delivery_id))
        )
    stmt = stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    return (await session.scalars(stmt.limit(limit + 1))).all()


async def due_delivery_ids(session: AsyncSession, now: datetime, limit: int) -> Sequence[uuid.UUID]:
    """Deliveries to active endpoints whose next attempt time has come, oldest due first."""
    stmt = (
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.delivered_at.is_(None),
            WebhookDelivery.abandoned_at.is_(None),
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.active.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def postpone(
    session: AsyncSession, ids: Sequence[uuid.UUID], now: datetime, until: datetime
) -> None:
    """Move due work out of the scheduler's sight until `until`, while a worker has it."""
    if ids:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(next_attempt_at=until)
            .execution_options(synchronize_session=False)
        )


async def pending_with_endpoints(
    session: AsyncSession, delivery_ids: Sequence[uuid.UUID]
) -> list[tuple[WebhookDelivery, WebhookEndpoint]]:
    """The deliveries still to be made, read afresh, with their endpoints if those are active."""
    stmt = (
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.id.in_(delivery_ids),
            WebhookDelivery.delivered_at.is_(None),
            WebhookDelivery.abandoned_at.is_(None),
            WebhookEndpoint.active.is_(True),
        )
        .execution_options(populate_existing=True)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def claim_many(
    session: AsyncSession,
    delivery_ids: Sequence[uuid.UUID],
    *,
    unless_after: datetime,
    until: datetime,
) -> set[uuid.UUID]:
    """Take pending deliveries for one attempt each, moving their next attempt to `until`;
    returns the ones taken, in one statement.

    Only a row whose next attempt is at or before `unless_after` can be taken, and `until` lies
    beyond it: of any number of workers racing for one row, exactly one gets it, and none gets
    it again while that attempt runs."""
    if not delivery_ids:
        return set()
    result = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id.in_(delivery_ids),
            WebhookDelivery.delivered_at.is_(None),
            WebhookDelivery.abandoned_at.is_(None),
            WebhookDelivery.next_attempt_at <= unless_after,
        )
        .values(next_attempt_at=until)
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars().all())


_RECORD = (
    update(WebhookDelivery.__table__)  # type: ignore[arg-type]
    .where(
        WebhookDelivery.__table__.c.id == bindparam("b_id"),
        WebhookDelivery.__table__.c.delivered_at.is_(None),
    )
    .values(
        attempts=WebhookDelivery.__table__.c.attempts + 1,
        last_status_code=bindparam("b_status_code"),
        last_error=bindparam("b_error"),
        delivered_at=bindparam("b_delivered_at"),
        next_attempt_at=bindparam("b_next_attempt_at"),
        abandoned_at=bindparam("b_abandoned_at"),
    )
)


async def record_attempts(session: AsyncSession, attempts: Sequence[dict[str, object]]) -> None:
    """Count one attempt per delivery and what came of it, in one executemany (a delivered row is
    never written again); each dict has the keys id, status_code, error, delivered_at,
    next_attempt_at and abandoned_at."""
    if attempts:
        await session.execute(
            _RECORD, [{f"b_{key}": value for key, value in a.items()} for a in attempts]
        )


async def undelivered_count(session: AsyncSession) -> int:
    """Deliveries neither delivered nor abandoned yet (for /metrics)."""
    stmt = select(func.count()).where(
        WebhookDelivery.delivered_at.is_(None), WebhookDelivery.abandoned_at.is_(None)
    )
    return int(await session.scalar(stmt) or 0)
