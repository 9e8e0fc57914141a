"""Each provider's report limits shape the sync: days per call, history depth, restatement,
and a provider without a report is watched but never loaded."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
import time_machine
from sqlalchemy import func, select

from tests.fixtures.connected import Connected
from tether.db import utcnow
from tether.health.checks import Engine
from tether.models import MetricDay
from tether.providers.definition import Reports
from tether.providers.registry import build_registry
from tether.sync import service


def _engine_with(connected: Connected, http: httpx.AsyncClient, reports: Reports | None) -> Engine:
    registry = build_registry(connected.tether.settings, http)
    sandbox = registry.providers["sandbox"]
    sandbox.definition = replace(sandbox.definition, reports=reports)
    return Engine(connected.tether.sessions, registry, connected.tether.settings)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def _metric_calls(connected: Connected) -> int:
    stats = await connected.tether.sandbox("GET", "/stats")
    return int(stats["users"]["alice"]["metrics"]["ok"])


async def _days(connected: Connected, connection_id: uuid.UUID) -> int:
    async with connected.tether.sessions() as session:
        count = await session.scalar(
            select(func.count()).where(MetricDay.connection_id == connection_id)
        )
    return int(count or 0)


async def test_a_range_is_cut_to_the_providers_call_size_and_history(
    connected: Connected, http: httpx.AsyncClient
) -> None:
    engine = _engine_with(connected, http, Reports(max_days_per_call=30, history_days=100))
    connection_id = uuid.UUID(connected.connections[0]["id"])
    today = utcnow().date()

    result = await service.sync_connection(
        engine, connection_id, start=today - timedelta(days=199), end=today
    )

    assert (result.outcome, result.days_loaded) == ("synced", 100)
    assert await _metric_calls(connected) == 4  # 100 days in calls of at most 30
    assert await _days(connected, connection_id) == 100


async def test_the_daily_load_asks_again_for_the_providers_restatement_window(
    connected: Connected, http: httpx.AsyncClient
) -> None:
    engine = _engine_with(connected, http, Reports(restate_days=7))
    connection_id = uuid.UUID(connected.connections[0]["id"])
    assert (await service.sync_connection(engine, connection_id)).days_loaded == 90

    with time_machine.travel(utcnow() + timedelta(days=1), tick=True):
        await connected.check()  # the day-old access token is refreshed first
        daily = await service.sync_connection(engine, connection_id)

    assert (daily.outcome, daily.days_loaded) == ("synced", 7)


async def test_a_provider_without_a_report_is_never_loaded_and_says_so(
    connected: Connected, http: httpx.AsyncClient
) -> None:
    engine = _engine_with(connected, http, None)
    connection_id = uuid.UUID(connected.connections[0]["id"])

    result = await service.sync_connection(engine, connection_id)

    assert result.outcome == "skipped"
    assert result.error is not None
    assert "daily loads" in result.error
    assert await _metric_calls(connected) == 0
    assert await _days(connected, connection_id) == 0
