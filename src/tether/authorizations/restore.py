"""Reconnecting: new credentials into an existing authorization, restoring what it serves.

One reconnect restores every connection under the authorization, across all clients, in one
transaction: bulk updates, not a row at a time, so ten thousand connections take a moment.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from tether import vault
from tether.actor import Actor
from tether.audit import service as audit
from tether.authorizations import repository
from tether.authorizations.events import AccountLost, AuthorizationRestored, ConnectionsReconnected
from tether.authorizations.service import seal_if_any, store_authorization
from tether.db import utcnow
from tether.errors import Conflict, NotFound
from tether.events import publish
from tether.kit.locks_repository import locked
from tether.kit.words import plural
from tether.models import (
    Account,
    Authorization,
    AuthorizationRole,
    Status,
)
from tether.providers.base import ExternalAccount, Identity, TokenGrant
from tether.providers.catalog import BY_KEY


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a reconnect brings: an OAuth grant or an API key, and who it belongs to."""

    identity: Identity
    accounts: Sequence[ExternalAccount]
    grant: TokenGrant | None = None
    api_key: str | None = None


@dataclass(frozen=True, slots=True)
class Restored:
    authorization: Authorization
    restored: int
    unreachable: list[str]


def _name(provider: str) -> str:
    return BY_KEY[provider].name if provider in BY_KEY else provider


async def restore_in_place(
    session: AsyncSession, *, authorization: Authorization, new: Credentials, actor: str
) -> Restored:
    """Put the new credentials into the authorization and restore every connection they reach.

    Accounts the new credentials cannot reach stay lapsed (`access_removed`, naming the account).
    If they reach none of the authorization's accounts, nothing changes (409)."""
    a = await held(session, authorization)
    known = await repository.account_external_ids(session, a.id)
    reachable = {account.external_id: account for account in new.accounts}
    if known and not known & reachable.keys():
        raise Conflict(
            f"You signed in to {_name(a.provider)} as {new.identity.name}, who cannot reach any "
            f"of this data source's {plural(len(known), 'account')}. Nothing was changed: sign "
            f"in as {a.external_user_name}, or connect {new.identity.name} as a new data source.",
            code="grant_mismatch",
        )
    async with session.begin_nested():
        _replace_credentials(a, new)
        audit.record(
            session,
            organization_id=a.organization_id,
            actor=actor,
            action="authorization.reconnected",
            subject_type="authorization",
            subject_id=a.id,
            from_value=a.status,
            to_value=Status.ACTIVE,
            signed_in_as=new.identity.name,
        )
        a.status, a.reason, a.message = Status.ACTIVE, None, None
        await repository.set_accounts_status(session, a.id, Status.ACTIVE)
        session.add_all(
            Account(
                organization_id=a.organization_id,
                authorization_id=a.id,
                external_id=e.external_id,
                name=e.name,
                currency=e.currency,
                manager_external_id=e.manager_id,
            )
            for e in reachable.values()
            if e.external_id not in known
        )
        await follow_managers(session, a, reachable)
        await session.flush()
        restored = await repository.restore_connections(session, a.id)
        lost = await repository.accounts_by_external_id(
            session, a.id, [key for key in known if key not in reachable]
        )
        for account in lost:
            await _lapse_unreachable(session, a, account, new.identity, actor)
        await publish(session, AuthorizationRestored(a, actor))
    return Restored(a, restored, [f"{x.name} ({x.external_id})" for x in lost])


GONE = "The data source to reconnect no longer exists; connect it again."


async def held(session: AsyncSession, authorization: Authorization) -> Authorization:
    """The authorization, held by this transaction from here on (as every writer holds it
    before its accounts and connections: kit.locks_repository) and read as it is now."""
    a = await locked(session, Authorization, authorization.id)
    if a is None:
        raise NotFound(GONE)
    return a


async def follow_managers(
    session: AsyncSession, a: Authorization, reachable: dict[str, ExternalAccount]
) -> None:
    """Known accounts now reached through another manager account (or none) remember it."""
    for account in await repository.accounts_of(session, a.id):
        found = reachable.get(account.external_id)
        if found is not None and account.manager_external_id != found.manager_id:
            account.manager_external_id = found.manager_id


def _replace_credentials(a: Authorization, new: Credentials) -> None:
    now = utcnow()
    if new.grant is not None:
        a.access_token = vault.seal(new.grant.access_token)
        a.access_token_secret = seal_if_any(new.grant.token_secret)
        a.refresh_token = seal_if_any(new.grant.refresh_token)
        a.expires_at = new.grant.expires_at
        a.refresh_expires_at = new.grant.refresh_expires_at
        a.scope = new.grant.scope
    if new.api_key is not None:
        a.api_key = vault.seal(new.api_key)
    a.external_user_id = new.identity.external_user_id
    a.external_user_name = new.identity.name
    a.check_failures, a.failing_since = 0, None
    a.accounts_checked_at = now
    a.next_check_at = now  # the scheduler confirms the new grant at its next pass


async def _lapse_unreachable(
    session: AsyncSession, a: Authorization, account: Account, identity: Identity, actor: str
) -> None:
    message = (
        f"The new {_name(a.provider)} sign-in ({identity.name}) cannot reach {account.name} "
        f"({account.external_id})."
    )
    await publish(session, AccountLost(a, account, message, actor))


async def reconnect_own_clients(
    session: AsyncSession,
    *,
    old: Authorization,
    member: Actor,
    new: Credentials,
) -> Restored:
    """A member who sees only some of the clients moves theirs to a new authorization of their own;
    the other clients' connections are left as they are."""
    actor = f"member:{member.member_id}"
    await held(session, old)
    visible = member.client_ids or frozenset()
    mine = await repository.visible_connections(session, old.id, visible)
    reachable = {e.external_id for e in new.accounts}
    movable = [c for c in mine if c.account_external_id in reachable]
    if not movable:
        raise Conflict(
            f"You signed in to {_name(old.provider)} as {new.identity.name}, who cannot reach the "
            "accounts your clients use here. Nothing was changed.",
            code="grant_mismatch",
        )
    async with session.begin_nested():
        fresh = await store_authorization(
            session,
            organization_id=old.organization_id,
            connector_id=member.member_id,
            provider=old.provider,
            identity=new.identity,
            accounts=new.accounts,
            grant=new.grant,
            api_key=new.api_key,
            role=AuthorizationRole.SECONDARY,
        )
        accounts = {x.external_id: x for x in await repository.accounts_of(session, fresh.id)}
        for connection in movable:
            account = accounts[connection.account_external_id]
            audit.record(
                session,
                organization_id=old.organization_id,
                actor=actor,
                action="connection.reconnected",
                subject_type="connection",
                subject_id=connection.id,
                from_value=str(old.id),
                to_value=str(fresh.id),
            )
            connection.authorization_id, connection.account_id = fresh.id, account.id
            connection.account_name = account.name
            connection.status, connection.reason, connection.message = Status.ACTIVE, None, None
        await session.flush()
        await publish(session, ConnectionsReconnected([c.id for c in movable], actor))
    return Restored(fresh, len(movable), [])
