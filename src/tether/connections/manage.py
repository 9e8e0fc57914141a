"""Switch a connection to another account, disconnect it, connect it again."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.audit import service as audit
from tether.authorizations import repository as authorizations
from tether.connections import repository
from tether.connections.events import ConnectionDisconnected, ConnectionSwitched
from tether.connections.service import get_connection
from tether.db import utcnow
from tether.errors import Conflict, Unprocessable
from tether.events import publish
from tether.models import Connection, Status
from tether.models.status import worse


async def switch_account(
    session: AsyncSession, *, actor: Actor, connection_id: uuid.UUID, account_id: uuid.UUID
) -> Connection:
    """Move a connection to another account (of any authorization of the same provider),
    keeping the connection itself, its id and its audit history. The metric days loaded (and
    the days recorded lost) were the old account's: they are deleted in the same transaction,
    and the connection is due at once for the new account's initial load."""
    actor.require_writer("switch accounts")
    connection = await get_connection(session, actor=actor, connection_id=connection_id)
    account = await authorizations.get_account(session, actor.organization_id, account_id)
    if account is None:
        raise Unprocessable("No such account in this organization.", code="unknown_account")
    authorization = await authorizations.get(
        session, actor.organization_id, account.authorization_id
    )
    assert authorization is not None
    if authorization.provider != connection.provider:
        raise Unprocessable(
            f"A {connection.provider} connection can only switch to another {connection.provider} "
            "account.",
            code="wrong_provider",
        )
    if account.id == connection.account_id:
        return connection
    duplicate = await repository.find_duplicate(
        session, connection.client_id, connection.provider, account.external_id
    )
    if duplicate is not None and duplicate.id != connection.id:
        raise Conflict(
            f"{connection.client_name} is already connected to {account.name}.",
            code="duplicate_connection",
        )
    _record(session, actor, connection, "connection.switched",
            f"{connection.account_name} ({connection.account_external_id})",
            f"{account.name} ({account.external_id})")  # fmt: skip
    connection.authorization_id, connection.account_id = authorization.id, account.id
    connection.account_name, connection.account_external_id = account.name, account.external_id
    connection.last_synced_at = account.last_synced_at
    # As a new connection: the new account's history loads at the next tick, and what the
    # old account's syncs failed with no longer applies.
    connection.next_sync_at = utcnow()
    connection.sync_error, connection.sync_failures = None, 0
    if connection.status != Status.DISCONNECTED:
        connection.status = worse(authorization.status, account.status)
        connection.reason, connection.message = authorization.reason, authorization.message
    await session.flush()  # the connection's row first (see `backfill.start_over`)
    await publish(session, ConnectionSwitched(connection, actor.audit_name))
    return connection


async def disconnect(
    session: AsyncSession, *, actor: Actor, connection_id: uuid.UUID
) -> Connection:
    """Switch a connection off on purpose: no checks count against it, no alarms."""
    actor.require_writer("disconnect connections")
    connection = await get_connection(session, actor=actor, connection_id=connection_id)
    if connection.status == Status.DISCONNECTED:
        return connection
    _record(session, actor, connection, "connection.disconnected", connection.status,
            Status.DISCONNECTED)  # fmt: skip
    connection.status, connection.reason, connection.message = Status.DISCONNECTED, None, None
    await session.flush()
    await publish(session, ConnectionDisconnected(connection, actor.audit_name))
    return connection


async def connect_again(
    session: AsyncSession, *, actor: Actor, connection_id: uuid.UUID
) -> Connection:
    """Turn a disconnected connection back on; it takes its authorization's status."""
    actor.require_writer("connect connections")
    connection = await get_connection(session, actor=actor, connection_id=connection_id)
    if connection.status != Status.DISCONNECTED:
        return connection
    authorization = await authorizations.get(
        session, actor.organization_id, connection.authorization_id
    )
    account = await authorizations.get_account(
        session, actor.organization_id, connection.account_id
    )
    assert authorization is not None
    assert account is not None
    status = worse(authorization.status, account.status)
    _record(session, actor, connection, "connection.connected", Status.DISCONNECTED, status)
    connection.status = status
    connection.reason, connection.message = authorization.reason, authorization.message
    connection.next_sync_at = utcnow()  # fill what the pause left empty
    await session.flush()
    return connection


def _record(
    session: AsyncSession,
    actor: Actor,
    connection: Connection,
    action: str,
    before: str,
    after: str,
) -> None:
    audit.record(
        session,
        organization_id=connection.organization_id,
        actor=actor.audit_name,
        action=action,
        subject_type="connection",
        subject_id=connection.id,
        from_value=before[:80],
        to_value=after[:80],
        client=connection.client_name,
    )
