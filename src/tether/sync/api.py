"""/api/v1/connections/{id}/sync, /api/v1/connections/{id}/metrics and /api/v1/coverage."""

import csv
import io
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tether.connections.service import get_connection
from tether.deps import CurrentActor, SessionDep, SettingsDep
from tether.kit.inputs import BodyDay, Cursor, Day, Limit, ProviderFilter
from tether.kit.schemas import ListOf, Schema
from tether.sync import coverage, service
from tether.sync.days import DayRange

router = APIRouter(tags=["sync"])


class SyncRequest(Schema):
    """Load this range (again); without it, whatever the history window lacks."""

    start: BodyDay = None
    end: BodyDay = None


class SyncRead(Schema):
    connection_id: uuid.UUID
    outcome: str
    days_loaded: int
    rows: int
    lost_days: int
    error: str | None
    reason: str | None
    last_synced_at: datetime | None
    next_sync_at: datetime | None


class MetricDayRead(Schema):
    day: date
    impressions: int
    clicks: int
    conversions: int
    spend: Decimal
    currency: str | None


class RangeRead(Schema):
    start: date
    end: date
    days: int


class GapRead(RangeRead):
    in_incident: bool


class CoverageRead(Schema):
    connection_id: uuid.UUID
    client_id: uuid.UUID
    client_name: str
    provider: str
    account_external_id: str
    status: str
    start: date
    end: date
    days_loaded: int
    missing: list[GapRead]
    unrecoverable: list[RangeRead]
    last_synced_at: datetime | None
    sync_error: str | None


def _range(r: DayRange) -> RangeRead:
    return RangeRead(start=r.start, end=r.end, days=r.days)


@router.post("/connections/{connection_id}/sync")
async def sync_connection(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    connection_id: uuid.UUID,
    body: SyncRequest | None = None,
) -> SyncRead:
    """Load the connection's metrics now and say what was loaded, lost or refused."""
    actor.require_writer("sync connections")
    await get_connection(session, actor=actor, connection_id=connection_id)
    # The sync writes in transactions of its own; end this one first so it holds no lock.
    await session.commit()
    result = await service.sync_now(
        request.app.state.runtime.health,
        member_id=actor.member_id,
        connection_id=connection_id,
        start=body.start if body else None,
        end=body.end if body else None,
    )
    connection = await get_connection(session, actor=actor, connection_id=connection_id)
    await session.refresh(connection)
    return SyncRead(
        connection_id=connection_id,
        outcome=result.outcome,
        days_loaded=result.days_loaded,
        rows=result.rows,
        lost_days=result.lost_days,
        error=result.error,
        reason=result.reason,
        last_synced_at=connection.last_synced_at,
        next_sync_at=connection.next_sync_at,
    )


@router.get(
    "/connections/{connection_id}/metrics",
    response_model=list[MetricDayRead],
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
async def list_metrics(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    connection_id: uuid.UUID,
    start: Day = None,
    end: Day = None,
) -> Any:
    """The connection's daily metrics, oldest first; CSV with `Accept: text/csv`."""
    days = await coverage.list_metrics(
        session, actor=actor, settings=settings, connection_id=connection_id, start=start, end=end
    )
    rows = [MetricDayRead.model_validate(d) for d in days]
    if "text/csv" not in request.headers.get("accept", ""):
        return rows
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(MetricDayRead.model_fields))
    for row in rows:
        writer.writerow(
            [
                row.day.isoformat(),
                row.impressions,
                row.clicks,
                row.conversions,
                row.spend,
                row.currency or "",
            ],
        )
    return Response(out.getvalue(), media_type="text/csv")


@router.get("/coverage")
async def list_coverage(
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    start: Day = None,
    end: Day = None,
    client_id: uuid.UUID | None = None,
    provider: ProviderFilter = None,
    connection_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> ListOf[CoverageRead]:
    """Per connection: days loaded, days missing (as ranges, and whether an incident explains
    them) and days the provider no longer serves, over a window of at most 400 days."""
    page = await coverage.coverage_page(
        session,
        actor=actor,
        settings=settings,
        start=start,
        end=end,
        client_id=client_id,
        provider=provider,
        connection_id=connection_id,
        cursor=cursor,
        limit=limit,
    )
    data = [
        CoverageRead(
            connection_id=c.connection.id,
            client_id=c.connection.client_id,
            client_name=c.connection.client_name,
            provider=c.connection.provider,
            account_external_id=c.connection.account_external_id,
            status=c.connection.status,
            start=c.window.start,
            end=c.window.end,
            days_loaded=c.days_loaded,
            missing=[
                GapRead(**_range(g.range).model_dump(), in_incident=g.in_incident)
                for g in c.missing
            ],
            unrecoverable=[_range(r) for r in c.unrecoverable],
            last_synced_at=c.connection.last_synced_at,
            sync_error=c.connection.sync_error,
        )
        for c in page.items
    ]
    return ListOf(data=data, next_cursor=page.next_cursor)
