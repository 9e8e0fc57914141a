"""How health reacts to what other domains publish: incidents close when what they were about
is restored, switched, disconnected or deleted, and an account a grant lost lapses."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tether.authorizations.events import (
    AccountLost,
    AuthorizationDeleted,
    AuthorizationRestored,
    ConnectionsReconnected,
)
from tether.connections.events import ConnectionDisconnected, ConnectionSwitched
from tether.db import utcnow
from tether.health import repository, status
from tether.health.incidents import authorization_key, close_incidents, connection_key
from tether.models import IncidentKind

# What an authorization's own incidents are about; a reconnect ends them all.
_RECONNECTED = [IncidentKind.LAPSE, IncidentKind.FAILING, IncidentKind.EXPIRING]


async def close_restored(session: AsyncSession, event: AuthorizationRestored) -> None:
    """The authorization's incidents, and those of its connections active again, close."""
    a, now = event.authorization, utcnow()
    await close_incidents(
        session,
        scope_keys=[authorization_key(a.id)],
        kinds=_RECONNECTED,
        how="reconnected",
        now=now,
        actor=event.actor,
    )
    keys = await repository.open_connection_incident_keys(session, a.id, active_only=True)
    if keys:
        await close_incidents(
            session, scope_keys=keys, kinds=[IncidentKind.LAPSE], how="reconnected", now=now,
            actor=event.actor,
        )  # fmt: skip


async def close_reconnected(session: AsyncSession, event: ConnectionsReconnected) -> None:
    await close_incidents(
        session,
        scope_keys=[connection_key(i) for i in event.connection_ids],
        kinds=[IncidentKind.LAPSE],
        how="reconnected",
        now=utcnow(),
        actor=event.actor,
    )


async def close_deleted(session: AsyncSession, event: AuthorizationDeleted) -> None:
    await close_incidents(
        session,
        scope_keys=[authorization_key(event.authorization.id)],
        kinds=list(IncidentKind),
        how="deleted",
        now=utcnow(),
        actor=event.actor,
    )


async def lose_account(session: AsyncSession, event: AccountLost) -> None:
    await status.lose_account(
        session,
        event.authorization,
        event.account,
        message=event.message,
        now=utcnow(),
        actor=event.actor,
    )


async def close_switched(session: AsyncSession, event: ConnectionSwitched) -> None:
    await _close_connection_lapse(session, event.connection.id, "switched", event.actor)


async def close_disconnected(session: AsyncSession, event: ConnectionDisconnected) -> None:
    await _close_connection_lapse(session, event.connection.id, "disconnected", event.actor)


async def _close_connection_lapse(
    session: AsyncSession, connection_id: uuid.UUID, how: str, actor: str
) -> None:
    await close_incidents(
        session,
        scope_keys=[connection_key(connection_id)],
        kinds=[IncidentKind.LAPSE],
        how=how,
        now=utcnow(),
        actor=actor,
    )
