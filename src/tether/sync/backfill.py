"""Loading what a connection lacks outside the daily rhythm: after a lapse ends, the connections
it covered are synced at once (the regular sync then loads every day the lapse left empty,
oldest first); after a switch to another account, the connection's history starts over."""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tether.models import Incident, IncidentScope
from tether.sync import repository

# How an incident ends when access is back.
_ACCESS_BACK = frozenset({"recovered", "reconnected"})


async def after_incident_closed(session: AsyncSession, incident: Incident, now: datetime) -> None:
    """Make the incident's connections due now, if it closed because access is back."""
    if incident.closed_how not in _ACCESS_BACK:
        return
    if incident.scope == IncidentScope.CONNECTION and incident.connection_id is not None:
        await repository.make_due(session, now, connection_id=incident.connection_id)
    elif incident.scope == IncidentScope.AUTHORIZATION and incident.authorization_id is not None:
        await repository.make_due(session, now, authorization_id=incident.authorization_id)


async def start_over(session: AsyncSession, connection_id: uuid.UUID) -> None:
    """Forget every day loaded for the connection, and every day recorded lost: they were
    another account's. The caller makes the connection due, so its initial load runs again.

    Call it after the connection's own row was updated in the same transaction: a sync storing
    days holds that row while it writes (`sync/store_repository.py`), so it either finishes
    first (and its days are deleted here) or waits and then finds the connection switched (and
    writes nothing)."""
    await repository.forget_days(session, connection_id)
