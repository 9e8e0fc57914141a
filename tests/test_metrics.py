"""What an operator sees on /metrics: a lapse as it happens, requests by route, the queue.

Counters are per process, and the tests share theirs (the running Tether is in this process),
so each test compares a scrape before with one after.
"""

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from tests.fixtures.connected import Connected
from tests.fixtures.prometheus import grew, label_values, scrape, value
from tests.fixtures.running import Tether, alongside
from tether import metrics, settings_checks
from tether import scrape as metrics_scrape
from tether.db import utcnow
from tether.health.classify import LAPSE_REASONS
from tether.kit.http_metrics import METHODS, OTHER, UNMATCHED
from tether.models import Authorization, Connection

TOKEN = "a-metrics-token-of-some-length"


@pytest.fixture
async def fresh(tether: Tether) -> AsyncIterator[Tether]:
    """A second Tether on the same database that reads the state anew at every scrape."""
    with alongside(tether, metrics_cache_seconds=0) as beside:
        yield beside


async def test_a_lapse_shows_on_metrics_as_it_happens(connected: Connected, fresh: Tether) -> None:
    before = await scrape(fresh.base_url)
    await connected.tether.sandbox("POST", f"/grants/{await connected.grant_id()}/revoke")

    await connected.check()
    after = await scrape(fresh.base_url)

    lapse = {"provider": "sandbox", "reason": "token_revoked"}
    probe = {"provider": "sandbox", "outcome": "lapse", "reason": "token_revoked"}
    assert grew(before, after, "tether_lapses_total", **lapse) == pytest.approx(1)
    assert grew(before, after, "tether_probes_total", **probe) == pytest.approx(1)
    authorizations = "tether_authorizations"
    assert value(before, authorizations, provider="sandbox", status="active") == 1
    assert value(after, authorizations, provider="sandbox", status="active") == 0
    assert value(after, authorizations, provider="sandbox", status="needs_reconnect") == 1
    assert value(after, "tether_connections", provider="sandbox", status="needs_reconnect") == 2


async def test_a_refresh_refused_is_counted_with_its_reason(
    connected: Connected, fresh: Tether
) -> None:
    before = await scrape(fresh.base_url)
    await connected.tether.sandbox("POST", f"/grants/{await connected.grant_id()}/revoke")
    async with connected.tether.sessions.begin() as session:
        stored = await session.get(Authorization, uuid.UUID(connected.id))
        assert stored is not None
        stored.expires_at = utcnow() - timedelta(hours=1)  # the next check must refresh first

    checked = await connected.check()
    after = await scrape(fresh.base_url)

    refused = {"provider": "sandbox", "outcome": "lapse", "reason": checked["reason"]}
    assert checked["reason"] in LAPSE_REASONS
    assert grew(before, after, "tether_refreshes_total", **refused) == pytest.approx(1)


async def test_a_healthy_check_counts_an_ok_probe_and_no_lapse(
    connected: Connected, fresh: Tether
) -> None:
    before = await scrape(fresh.base_url)

    await connected.check()
    after = await scrape(fresh.base_url)

    ok = {"provider": "sandbox", "outcome": "ok", "reason": ""}
    assert grew(before, after, "tether_probes_total", **ok) == pytest.approx(1)
    assert grew(before, after, "tether_lapses_total") == 0


async def test_request_durations_are_labelled_by_route_template_never_by_raw_path(
    connected: Connected,
) -> None:
    connection_id = connected.connections[0]["id"]
    stray = uuid.uuid4().hex
    before = await scrape(connected.tether.base_url)

    assert (await connected.org.api.get(f"/api/v1/connections/{connection_id}")).is_success
    assert (await connected.org.api.get(f"/no-such-page/{stray}")).status_code == 404
    await connected.org.api.request(f"X{stray[:8].upper()}", "/api/v1/connections")
    after = await scrape(connected.tether.base_url)

    name = "tether_http_request_duration_seconds_count"
    template = {"method": "GET", "route": "/api/v1/connections/{connection_id}", "status": "200"}
    assert grew(before, after, name, **template) == pytest.approx(1)
    unmatched = {"method": "GET", "route": UNMATCHED, "status": "404"}
    assert grew(before, after, name, **unmatched) == pytest.approx(1)
    routes = label_values(after, name, "route")
    assert not any(connection_id in r or stray in r for r in routes)
    assert label_values(after, name, "method") <= {*METHODS, OTHER}


async def test_the_metrics_token_admits_only_its_bearer(tether: Tether) -> None:
    with alongside(tether, metrics_token=TOKEN) as guarded:
        async with httpx.AsyncClient(base_url=guarded.base_url, timeout=10) as http:
            anonymous = await http.get("/metrics")
            wrong = await http.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        allowed = await scrape(guarded.base_url, TOKEN)

    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert TOKEN not in anonymous.text + wrong.text
    assert "tether_lapses_total" in allowed


async def test_the_state_is_read_at_most_once_per_period(connected: Connected) -> None:
    """However many scrapes come, the database is read again only when the period is over."""
    tether = connected.tether
    cached = metrics_scrape.State(
        tether.sessions, tether.settings.model_copy(update={"metrics_cache_seconds": 3600})
    )
    active = {"provider": "sandbox", "status": "active"}
    await cached.refresh()
    assert REGISTRY.get_sample_value("tether_authorizations", active) == 1
    await connected.tether.sandbox("POST", f"/grants/{await connected.grant_id()}/revoke")
    await connected.check()

    await cached.refresh()
    assert REGISTRY.get_sample_value("tether_authorizations", active) == 1  # not read again

    await metrics_scrape.State(tether.sessions, tether.settings).refresh()
    assert REGISTRY.get_sample_value("tether_authorizations", active) == 0


def _in_a_process(code: str, folder: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env[metrics_scrape.MULTIPROCESS] = str(folder)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_in_multiprocess_mode_one_scrape_answers_for_every_process(tmp_path: Path) -> None:
    """Several processes sharing one port (PROMETHEUS_MULTIPROC_DIR): counters add up, and a
    gauge of the database's state is the latest value read, not a sum of every reader's."""
    for lapses, active in ((1, 3), (2, 5)):
        _in_a_process(
            "from tether import metrics, scrape\n"
            f"metrics.LAPSES.labels('sandbox', 'token_revoked').inc({lapses})\n"
            f"scrape.AUTHORIZATIONS.labels('sandbox', 'active').set({active})\n",
            tmp_path,
        )

    text = _in_a_process(
        "from tether import scrape\nprint(scrape.render()[0].decode())\n", tmp_path
    )

    assert value(text, "tether_lapses_total", provider="sandbox", reason="token_revoked") == 3
    assert value(text, "tether_authorizations", provider="sandbox", status="active") == 5


def test_the_client_librarys_variable_and_the_metrics_settings_are_not_refused() -> None:
    environ = {
        metrics_scrape.MULTIPROCESS: "/run/tether-metrics",
        "TETHER_METRICS_TOKEN": TOKEN,
        "TETHER_METRICS_CACHE_SECONDS": "10",
        "TETHER_WORKER_PORT": "9100",
        "TETHER_WORKER_HOST": "0.0.0.0",
        "TETHER_METRICS_CACHE_SECOND": "10",
    }

    assert settings_checks.unknown_variables(environ) == [
        "TETHER_METRICS_CACHE_SECOND is not a setting Tether knows. "
        "Did you mean TETHER_METRICS_CACHE_SECONDS?"
    ]


async def test_syncs_are_counted_by_outcome_and_reason(connected: Connected, fresh: Tether) -> None:
    tether, api = connected.tether, connected.org.api
    before = await scrape(fresh.base_url)

    synced = await tether.sync(api, connected.connections[0]["id"])
    await tether.sandbox("POST", f"/grants/{await connected.grant_id()}/revoke")
    failed = await tether.sync(api, connected.connections[1]["id"])
    after = await scrape(fresh.base_url)

    assert (synced["outcome"], failed["outcome"]) == ("synced", "failed")
    for labels in (
        {"provider": "sandbox", "outcome": "synced", "reason": ""},
        {"provider": "sandbox", "outcome": "failed", "reason": "token_revoked"},
    ):
        assert grew(before, after, "tether_syncs_total", **labels) == pytest.approx(1), labels
    lapse = {"provider": "sandbox", "reason": "token_revoked"}
    assert grew(before, after, "tether_lapses_total", **lapse) == pytest.approx(1)


async def test_overdue_checks_and_syncs_show_the_age_of_the_oldest(
    connected: Connected, fresh: Tether
) -> None:
    now = utcnow()
    connection_ids = [uuid.UUID(c["id"]) for c in connected.connections]

    async def due(check: timedelta, *syncs: timedelta) -> str:
        async with connected.tether.sessions.begin() as session:
            stored = await session.get(Authorization, uuid.UUID(connected.id))
            assert stored is not None
            stored.next_check_at = now + check
            for connection_id, when in zip(connection_ids, syncs, strict=True):
                found = await session.get(Connection, connection_id)
                assert found is not None
                found.next_sync_at = now + when
        return await scrape(fresh.base_url)

    behind = await due(-timedelta(hours=1), -timedelta(hours=2), timedelta(hours=1))
    on_time = await due(timedelta(minutes=5), timedelta(hours=1), timedelta(hours=1))

    assert 3600 <= value(behind, "tether_oldest_overdue_check_seconds") < 3600 + 60
    assert 7200 <= value(behind, "tether_oldest_overdue_sync_seconds") < 7200 + 60
    assert value(on_time, "tether_oldest_overdue_check_seconds") == 0
    assert value(on_time, "tether_oldest_overdue_sync_seconds") == 0


async def test_a_count_waits_for_the_commit_and_is_dropped_by_a_rollback(tether: Tether) -> None:
    counted: list[str] = []

    async with tether.sessions() as session:
        await session.execute(select(1))
        metrics.on_commit(session, lambda: counted.append("rolled back"))
        await session.rollback()
        async with session.begin():
            async with session.begin_nested():
                metrics.on_commit(session, lambda: counted.append("committed"))
            assert counted == []  # a savepoint released is not the transaction committed
        await session.execute(select(1))
        metrics.on_commit(session, lambda: counted.append("left open"))

    assert counted == ["committed"]
