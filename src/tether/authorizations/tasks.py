"""The authorizations' background work: folding the counts' pending changes at each scheduler
pass (models/authorization_count.py)."""

from tether.authorizations import counts_repository
from tether.worker import due

due.register_fold("authorizations.counts", counts_repository.fold)
