"""Who reacts to which domain event, in the order they run (see `tether/events.py`).

One table, so that the whole flow reads in one place: a domain publishes what happened and
knows nothing of these lines; each reaction lives in the reacting domain's `reactions.py`.
"""

from tether.authorizations.events import (
    AccountLost,
    AuthorizationDeleted,
    AuthorizationRestored,
    ConnectionsReconnected,
)
from tether.connections.events import ConnectionDisconnected, ConnectionSwitched
from tether.events import subscribe
from tether.health import reactions as health
from tether.health.events import IncidentClosed, IncidentOpened
from tether.notifications import reactions as notifications
from tether.sync import reactions as sync

subscribe(AuthorizationRestored, health.close_restored)
subscribe(ConnectionsReconnected, health.close_reconnected)
subscribe(AuthorizationDeleted, health.close_deleted)
subscribe(AccountLost, health.lose_account)
# The old account's days go before the switched connection's incidents close, so the backfill
# a closing lapse asks for is of the new account.
subscribe(ConnectionSwitched, sync.start_over)
subscribe(ConnectionSwitched, health.close_switched)
subscribe(ConnectionDisconnected, health.close_disconnected)
subscribe(IncidentOpened, notifications.tell_opened)
subscribe(IncidentClosed, notifications.tell_closed)
subscribe(IncidentClosed, sync.backfill_missed_days)
