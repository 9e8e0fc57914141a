"""What the sync has due: connections whose next load time came."""

from tether.sync import repository
from tether.worker.queue import DueWork

SYNC_ACTOR = "sync.sync_connections"

# A lost job's syncs are due again once the dispatch timeout has passed.
SYNCS = DueWork(SYNC_ACTOR, repository.due_connection_ids, repository.postpone, batch=20)
