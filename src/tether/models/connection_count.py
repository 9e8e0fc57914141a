"""How many connections each organization has, by provider and status, kept by the database.

Triggers on `connections` (migration 0013) keep these rows in the transaction that inserts,
updates or deletes connections, whatever code path does it, so the counts cannot drift from the
rows they count. On SQLite each changed row adds and takes one from `connection_counts` (one
writer at a time: nothing waits). On PostgreSQL, where many transactions change statuses at once,
each statement appends its net change to `connection_count_changes`, which takes no lock another
transaction waits on; the scheduler folds the changes into `connection_counts` at each pass, and a
count reads both (docs/decisions/009).
"""

from tether.db import Base
from tether.models.kept_count import KeptCount, KeptCountChange


class ConnectionCount(KeptCount, Base):
    __tablename__ = "connection_counts"


class ConnectionCountChange(KeptCountChange, Base):
    __tablename__ = "connection_count_changes"
