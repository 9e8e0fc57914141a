"""After a lapse ends, the connections it covered are synced at once: the regular sync then
loads every day the lapse left empty, oldest first."""

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
