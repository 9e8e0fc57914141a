"""/api/v1/connections/{id}/sync, /api/v1/syncs/{id}, /api/v1/connections/{id}/metrics and
/api/v1/coverage."""

import csv
import io
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import Response

from tether.deps import CurrentActor, SessionDep, SettingsDep
from tether.kit.inputs import BodyDay, Cursor, Day, Limit, ProviderFilter
from tether.kit.schemas import ListOf, Schema
from tether.models import SyncRequest
from tether.sync import coverage, requests
from tether.sync.days import DayRange
from tether.sync.requests import RequestStatus

router = APIRouter(tags=["sync"])


class SyncAsked(Schema):
    """Load this range (again); without it, whatever the history window lacks."""

    start: BodyDay = None
    end: BodyDay = None


class SyncRequestRead(Schema):
    """A sync someone asked for: queued, running, finished (see `outcome`) or abandoned."""

    id: uuid.UUID
    connection_id: uuid.UUID
    status: RequestStatus
    start: date | None
    end: date | None
    requested_at: datetime
    finished_at: datetime | None
    # Once finished: synced, failed (the provider refused; see error and reason) or skipped.
    outcome: str | None
    days_loaded: int
    rows: int
    lost_days: int
    error: str | None
    reason: str | None
    # Why the last try did not finish (it is tried again, or was abandoned).
    last_error: str | None


def sync_request_read(request: SyncRequest) -> SyncRequestRead:
    """The row as it is, with the status its times and tries make."""
    stored = {
        name: getattr(request, name) for name in SyncRequestRead.model_fields if name != "status"
    }
    return SyncRequestRead(status=requests.status_of(request), **stored)


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


@router.post(
    "/connections/{connection_id}/sync",
    status_code=status.HTTP_202_ACCEPTED,
    responses={202: {"headers": {"Location": {"description": "Where to follow the sync."}}}},
)
async def sync_connection(
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    connection_id: uuid.UUID,
    body: SyncAsked | None = None,
) -> SyncRequestRead:
    """Queue a sync of the connection: the given days, or whatever its history window lacks.

    Answers at once with the queued sync (the one already queued, if it is for the same days);
    follow it at the `Location` given, until its status is `finished` or `abandoned`."""
    queued, _ = await requests.request_sync(
        session,
        actor=actor,
        connection_id=connection_id,
        start=body.start if body else None,
        end=body.end if body else None,
    )
    response.headers["Location"] = f"/api/v1/syncs/{queued.id}"
    return sync_request_read(queued)


@router.get("/syncs/{sync_id}")
async def get_sync_request(
    session: SessionDep, actor: CurrentActor, sync_id: uuid.UUID
) -> SyncRequestRead:
    """A sync someone asked for: how far it got, and what it loaded."""
    asked, _ = await requests.get_request(session, actor=actor, request_id=sync_id)
    return sync_request_read(asked)


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
