"""The connections' background work: folding the counts' pending changes at each scheduler
pass (models/connection_count.py)."""

from tether.connections import counts_repository
from tether.worker import due

due.register_fold("connections.counts", counts_repository.fold)
