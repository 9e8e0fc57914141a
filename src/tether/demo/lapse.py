"""The lapse the demo starts with: Bob's Sandbox Ads grant, revoked four days ago.

Lumen Skincare's Performance Max account is one only bob reaches. The demo connects it, loads
its history up to the day before the lapse, and records the lapse as the health check recorded
it then: the incident opened four days ago, the connector told, and the days since missing on
Coverage. Reconnecting as bob loads those days again while the person watches.
"""

import secrets
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.authorizations.service import store_authorization
from tether.clients import repository as clients
from tether.config import Settings
from tether.connections.service import connect_client
from tether.health.classify import Observation, Verdict
from tether.health.status import Context, record
from tether.models import Authorization, Connection
from tether.providers.base import ExternalAccount, Identity, TokenGrant
from tether.sandbox.metrics import day_metrics
from tether.sandbox.state import SandboxAccount, SandboxState
from tether.sync import repository as sync
from tether.sync.days import history_window

LAPSED_DAYS_AGO = 4
USERNAME = "bob"
CLIENT = "Lumen Skincare"
ACCOUNT = "Lumen Skincare — Performance Max"
PROVIDER = "sandbox"
# What Sandbox Ads answers for a revoked grant, as the health check would have read it.
REASON = "token_revoked"
MESSAGE = "The grant was revoked."


async def seed_lapse(
    session: AsyncSession, *, actor: Actor, settings: Settings, now: datetime
) -> Connection:
    """Bob's authorization, Lumen Skincare connected through it, the history loaded until the
    lapse, and the lapse recorded as of four days ago."""
    world = SandboxState.seeded()
    user = world.user(USERNAME)
    reached = [world.accounts[i] for i in world.reachable_account_ids(user.id)]
    lapsed_at = datetime.combine(
        now.date() - timedelta(days=LAPSED_DAYS_AGO), time(6, 0), tzinfo=UTC
    )
    # Tokens the sandbox never issued: whatever Tether asks with them is refused, as a revoked
    # grant's are, so the lapse holds until bob signs in again.
    grant = TokenGrant(
        access_token=f"sbx_at_{secrets.token_urlsafe(32)}",
        refresh_token=f"sbx_rt_{secrets.token_urlsafe(32)}",
        expires_at=lapsed_at,
    )
    authorization = await store_authorization(
        session,
        organization_id=actor.organization_id,
        connector_id=actor.member_id,
        provider=PROVIDER,
        identity=Identity(external_user_id=user.id, name=user.name),
        accounts=[ExternalAccount(a.id, a.name, a.currency) for a in reached],
        grant=grant,
    )
    client = await clients.get_by_name(session, actor.organization_id, CLIENT)
    assert client is not None, "the demo's clients are seeded first"
    account = next(a for a in reached if a.name == ACCOUNT)
    connection = await connect_client(
        session, actor=actor, client_id=client.id, provider=PROVIDER, external_id=account.id
    )
    window = history_window(now, settings.sync_history_days).each()
    days = [_day(connection.id, account, d, lapsed_at) for d in window if d < lapsed_at.date()]
    await sync.upsert_days(session, days)
    connection.last_synced_at = lapsed_at
    await _lapse(session, authorization, settings, lapsed_at)
    return connection


def _day(
    connection_id: uuid.UUID, account: SandboxAccount, day: date, loaded_at: datetime
) -> dict[str, Any]:
    """One day as the sync would have loaded it: the figures the sandbox serves for it."""
    figures = day_metrics(account, day)
    return {
        "connection_id": connection_id,
        "day": day,
        "impressions": figures["impressions"],
        "clicks": figures["clicks"],
        "conversions": figures["conversions"],
        "spend": Decimal(figures["spend"]),
        "currency": account.currency,
        "loaded_at": loaded_at,
    }


async def _lapse(
    session: AsyncSession, authorization: Authorization, settings: Settings, at: datetime
) -> None:
    seen = Observation(Verdict.LAPSE, reason=REASON, message=MESSAGE)
    await record(session, authorization, seen, Context(settings, now=at))
