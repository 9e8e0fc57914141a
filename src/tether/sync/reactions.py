"""How sync reacts: days a closed lapse missed are loaded again, and a connection switched to
another account starts its history over."""

from sqlalchemy.ext.asyncio import AsyncSession

from tether.connections.events import ConnectionSwitched
from tether.health.events import IncidentClosed
from tether.sync import backfill


async def backfill_missed_days(session: AsyncSession, event: IncidentClosed) -> None:
    await backfill.after_incident_closed(session, event.incident, event.at)


async def start_over(session: AsyncSession, event: ConnectionSwitched) -> None:
    await backfill.start_over(session, event.connection.id)
