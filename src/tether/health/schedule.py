"""What the health engine has due: authorizations whose next check (or refresh) time came."""

from tether.health import repository
from tether.worker.queue import DueWork

CHECK_ACTOR = "health.check_authorizations"

# A lost job's checks are due again once the dispatch timeout has passed.
CHECKS = DueWork(CHECK_ACTOR, repository.due_authorization_ids, repository.postpone)
