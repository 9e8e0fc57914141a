"""What Tether counts for Prometheus as it works: refreshes, probes, syncs, lapses, webhook
failures and notification delivery lag.

The definitions live here, in the foundation, so that each domain counts where its outcome is
already decided and no domain imports another to do it. A count about a database change is
made only once that change commits (`on_commit`): a counter bumped in a transaction that then
rolls back would tell of a lapse that never happened. What is read from the database at scrape
time (statuses, overdue work, pending notifications) is in `tether/scrape.py`; the HTTP and job
histograms in `kit/http_metrics.py` and `worker/job_metrics.py`.
"""

from collections.abc import Callable

from prometheus_client import Counter, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

# Seconds, from a second to a day: notifications wait for a digest window or a receiver's return.
LAG_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 86_400)

REFRESHES = Counter(
    "tether_refreshes_total",
    "OAuth token refreshes, by provider and outcome (refreshed, lapse, transient) and reason.",
    ["provider", "outcome", "reason"],
)
PROBES = Counter(
    "tether_probes_total",
    "Authorization probes, by provider and outcome (ok, lapse, transient) and reason.",
    ["provider", "outcome", "reason"],
)
SYNCS = Counter(
    "tether_syncs_total",
    "Connection syncs, by provider and outcome (synced, failed, deferred) and failure reason.",
    ["provider", "outcome", "reason"],
)
LAPSES = Counter(
    "tether_lapses_total",
    "Authorizations and connections newly needing a person to reconnect (lapse incidents).",
    ["provider", "reason"],
)
WEBHOOK_FAILURES = Counter(
    "tether_webhook_failures_total",
    "Failed webhook delivery attempts, by reason (answered 500, timed out, refused: ...).",
    ["reason"],
)
DELIVERY_LAG = Histogram(
    "tether_notification_delivery_lag_seconds",
    "From a notification's making to its delivery, by channel (email, webhook).",
    ["channel"],
    buckets=LAG_BUCKETS,
)

_PENDING = "tether.metrics.pending"


def on_commit(session: AsyncSession, count: Callable[[], None]) -> None:
    """Count once the session's transaction commits; never if it rolls back."""
    session.sync_session.info.setdefault(_PENDING, []).append(count)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outermost transaction may still roll back
    for count in session.info.pop(_PENDING, []):
        count()


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended without a commit (which would have emptied the list).
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
