"""How notifications react to what health publishes: an incident opened or closed is told to
the members, channels and webhooks that want it (through the outbox)."""

from sqlalchemy.ext.asyncio import AsyncSession

from tether.health.events import IncidentClosed, IncidentOpened
from tether.notifications import outbox


async def tell_opened(session: AsyncSession, event: IncidentOpened) -> None:
    await outbox.incident_opened(session, event.incident, event.at)


async def tell_closed(session: AsyncSession, event: IncidentClosed) -> None:
    await outbox.incident_closed(session, event.incident, event.at)
