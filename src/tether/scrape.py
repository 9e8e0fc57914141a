"""What `/metrics` answers, on the web app and on each worker: the counters and histograms of
this process (`tether/metrics.py`, `kit/http_metrics.py`, `worker/job_metrics.py`), and gauges
of the state in the database and the broker, read when Prometheus scrapes.

The state is read with one query per gauge (GROUP BY, or MIN over an indexed due column) and
kept for `TETHER_METRICS_CACHE_SECONDS`, so a scrape storm cannot load the database: however
many scrapes arrive, each process reads at most once per period. Every process answers the
same state; a dashboard takes `max` over instances.

With `PROMETHEUS_MULTIPROC_DIR` set (the client library's own variable, for several processes
sharing one port behind a process manager) the answer gathers every process's files there.
"""

import asyncio
import hmac
import logging
import os
import time
from collections.abc import Iterable
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
    multiprocess,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response

from tether.authorizations import repository as authorizations
from tether.config import Settings
from tether.connections import repository as connections
from tether.db import utcnow
from tether.health import repository as health
from tether.models import Channel, Status
from tether.notifications import email_repository, webhooks_repository
from tether.sync import repository as sync
from tether.worker import actor
from tether.worker.job_metrics import QUEUE_DEPTH, read_depths

log = logging.getLogger(__name__)

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"
WEBHOOK = "webhook"

# Read from the database at scrape time: each process sets the same values, the latest wins.
CONNECTIONS = Gauge(
    "tether_connections",
    "Connections by provider and status.",
    ["provider", "status"],
    multiprocess_mode="mostrecent",
)
AUTHORIZATIONS = Gauge(
    "tether_authorizations",
    "Authorizations by provider and status.",
    ["provider", "status"],
    multiprocess_mode="mostrecent",
)
OLDEST_OVERDUE_CHECK = Gauge(
    "tether_oldest_overdue_check_seconds",
    "How long the check due longest ago has waited (0 when none is overdue).",
    multiprocess_mode="mostrecent",
)
OLDEST_OVERDUE_SYNC = Gauge(
    "tether_oldest_overdue_sync_seconds",
    "How long the sync due longest ago has waited (0 when none is overdue).",
    multiprocess_mode="mostrecent",
)
NOTIFICATIONS_PENDING = Gauge(
    "tether_notifications_pending",
    "Notifications made but not yet delivered (nor abandoned), by channel (email, webhook).",
    ["channel"],
    multiprocess_mode="mostrecent",
)


class State:
    """The gauges read from the database and the broker, at most once per period."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        self._read_at: float | None = None
        self._lock = asyncio.Lock()
        # Label sets shown before: set to 0 when the database no longer has any of them.
        self._shown: dict[Gauge, set[tuple[str, ...]]] = {}

    async def refresh(self) -> None:
        """Read the state again unless it was read within the period (one reader at a time)."""
        async with self._lock:
            period = self.settings.metrics_cache_seconds
            if self._read_at is not None and time.monotonic() - self._read_at < period:
                return
            try:
                await self._read()
            except Exception:
                # The counters are still worth answering; the gauges keep their last values.
                log.warning("Could not read the state for /metrics", exc_info=True)
            self._read_at = time.monotonic()

    async def _read(self) -> None:
        now = utcnow()
        async with self.sessions() as session:
            by_status = await authorizations.count_by_provider_and_status(session)
            self._set(AUTHORIZATIONS, by_status.items())
            by_status = await connections.count_by_provider_and_status(session)
            self._set(CONNECTIONS, by_status.items())
            OLDEST_OVERDUE_CHECK.set(_age(await health.oldest_due_check(session, now), now))
            OLDEST_OVERDUE_SYNC.set(_age(await sync.oldest_due_sync(session, now), now))
            pending = {
                (Channel.EMAIL.value,): await email_repository.unsent_count(session),
                (WEBHOOK,): await webhooks_repository.undelivered_count(session),
            }
        self._set(NOTIFICATIONS_PENDING, pending.items())
        depths = await read_depths(self.settings, actor.queues())
        self._set(QUEUE_DEPTH, (((queue,), n) for queue, n in depths.items()))

    def _set(self, gauge: Gauge, counts: Iterable[tuple[tuple[str, ...], int]]) -> None:
        values = dict(counts)
        shown = self._shown.setdefault(gauge, set())
        if gauge in (AUTHORIZATIONS, CONNECTIONS):
            # Every status of each provider present, so a status emptied shows as 0.
            providers = {labels[0] for labels in values}
            shown |= {(p, s.value) for p in providers for s in Status}
        for labels in shown | set(values):
            gauge.labels(*labels).set(values.get(labels, 0))
        shown |= set(values)


def _age(due_at: datetime | None, now: datetime) -> float:
    return 0.0 if due_at is None else max((now - due_at).total_seconds(), 0.0)


def render() -> tuple[bytes, str]:
    """This process's metrics (or, in multiprocess mode, every process's) as Prometheus text."""
    if os.environ.get(MULTIPROCESS):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


async def endpoint(request: Request) -> Response:
    """GET /metrics: the state refreshed if stale, then everything in the text format. With
    `TETHER_METRICS_TOKEN` set, only a caller presenting it as a bearer token is answered."""
    state: State = request.app.state.metrics
    token = state.settings.metrics_token
    if token is not None and not _bearer_matches(request.headers.get("authorization"), token):
        return Response(
            "A bearer token is needed for /metrics.\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            media_type="text/plain",
        )
    await state.refresh()
    body, content_type = render()
    return Response(body, headers={"Content-Type": content_type})


def _bearer_matches(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    matches = hmac.compare_digest(given.strip().encode(), token.encode())
    return scheme.lower() == "bearer" and matches
