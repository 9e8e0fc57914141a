"""Reconnect, promote and delete authorizations: the member-facing side of Flows 4 and 6."""

import logging
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tether import vault
from tether.actor import Actor
from tether.audit import service as audit
from tether.authorizations import oauth, repository, restore
from tether.authorizations.events import AuthorizationDeleted
from tether.authorizations.permissions import (
    ReconnectMode,
    reconnect_mode,
    require_acting_for_everyone,
)
from tether.authorizations.service import clean_api_key, discover, get_authorization
from tether.errors import Conflict, NotFound, Unprocessable
from tether.events import publish
from tether.models import Authorization, AuthorizationRole
from tether.providers.base import AuthKind, Credentials, ProviderCallError
from tether.providers.registry import Registry

log = logging.getLogger(__name__)


async def start_reconnect(
    session: AsyncSession,
    *,
    actor: Actor,
    registry: Registry,
    redirect_uri: str,
    lifetime: timedelta,
    authorization_id: uuid.UUID | None = None,
    connection_id: uuid.UUID | None = None,
    return_to: str | None = None,
) -> oauth.OAuthStart:
    """The consent URL that reconnects an authorization (or, through one of its connections,
    the connections of the member's own clients)."""
    connection = None
    if connection_id is not None:
        connection = await repository.get_connection(session, actor.organization_id, connection_id)
        if connection is None or not actor.can_see_client(connection.client_id):
            raise NotFound("No such connection.")
        authorization_id = connection.authorization_id
    assert authorization_id is not None
    a = await get_authorization(session, actor=actor, authorization_id=authorization_id)
    mode = await reconnect_mode(session, actor, a, connection)
    if registry.info(a.provider).auth_kind == AuthKind.API_KEY:
        raise Unprocessable(
            f"{registry.info(a.provider).name} is reconnected by entering its API key again: "
            f"PUT /api/v1/authorizations/{a.id}/api-key.",
            code="api_key_required",
        )
    return await oauth.start(
        session,
        actor=actor,
        registry=registry,
        provider=a.provider,
        redirect_uri=redirect_uri,
        lifetime=lifetime,
        return_to=return_to,
        authorization_id=a.id,
        connection_id=connection.id if mode == ReconnectMode.OWN_CLIENTS and connection else None,
    )


async def reverify_api_key(
    session: AsyncSession,
    *,
    actor: Actor,
    registry: Registry,
    authorization_id: uuid.UUID,
    api_key: str,
) -> restore.Restored:
    """Re-enter an API key: verified with the provider, then it replaces this authorization's
    key (and only this one's) and restores its connections."""
    a = await get_authorization(session, actor=actor, authorization_id=authorization_id)
    await require_acting_for_everyone(session, actor, a, "replace its API key")
    info = registry.info(a.provider)
    if info.auth_kind != AuthKind.API_KEY:
        raise Unprocessable(f"{info.name} is reconnected by signing in, not with an API key.")
    api_key = clean_api_key(api_key)
    identity, accounts = await discover(
        registry.adapter(a.provider), Credentials(api_key=api_key), info.name
    )
    new = restore.Credentials(identity, accounts, api_key=api_key)
    return await restore.restore_in_place(session, authorization=a, new=new, actor=actor.audit_name)


async def promote(
    session: AsyncSession, *, actor: Actor, authorization_id: uuid.UUID
) -> Authorization:
    """Make a secondary authorization the main one for its provider. It acts on the main one
    too (new connections no longer default to it), so the member must be allowed on both."""
    a = await get_authorization(session, actor=actor, authorization_id=authorization_id)
    await require_acting_for_everyone(session, actor, a, "make it the main one")
    if a.role == AuthorizationRole.MAIN:
        return a
    main = await repository.main_for(session, a.organization_id, a.provider)
    if main is not None:
        await require_acting_for_everyone(
            session, actor, main, "put another in its place",
            subject=f"The main authorization ({main.external_user_name})",
        )  # fmt: skip
    await repository.demote_others(session, a.organization_id, a.provider, a.id)
    audit.record(
        session,
        organization_id=a.organization_id,
        actor=actor.audit_name,
        action="authorization.promoted",
        subject_type="authorization",
        subject_id=a.id,
        from_value=a.role,
        to_value=AuthorizationRole.MAIN,
    )
    a.role = AuthorizationRole.MAIN
    await session.flush()
    return a


async def delete(
    session: AsyncSession, *, actor: Actor, registry: Registry, authorization_id: uuid.UUID
) -> None:
    """Delete an authorization no connection uses: its secrets are destroyed, and its token
    revoked at the provider where the provider allows."""
    a = await get_authorization(session, actor=actor, authorization_id=authorization_id)
    await require_acting_for_everyone(session, actor, a, "delete it")
    users = await repository.clients_using(session, a.id)
    if users:
        raise Conflict(
            f"This data source is still used by {_clients_named(actor, users)}. Disconnect "
            "those connections or switch them to another account first.",
            code="authorization_in_use",
        )
    await _revoke_at_provider(registry, a)
    await publish(session, AuthorizationDeleted(a, actor.audit_name))
    audit.record(
        session,
        organization_id=a.organization_id,
        actor=actor.audit_name,
        action="authorization.deleted",
        subject_type="authorization",
        subject_id=a.id,
        from_value=a.role,
        provider=a.provider,
        signed_in_as=a.external_user_name,
    )
    was_main = a.role == AuthorizationRole.MAIN
    await session.delete(a)
    await session.flush()
    if was_main:
        await repository.promote_newest(session, a.organization_id, a.provider)


def _clients_named(actor: Actor, clients: list[tuple[uuid.UUID, str]], most: int = 5) -> str:
    """The clients the actor may see, by name (a few), and how many others of theirs; the
    clients they cannot see are mentioned, never counted."""
    seen = [name for client_id, name in clients if actor.can_see_client(client_id)]
    named = seen[:most]
    others = len(seen) - len(named)
    if others:
        named.append(f"{others} other client{'s' if others != 1 else ''}")
    if len(seen) < len(clients):
        named.append("clients you cannot see")
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"


async def _revoke_at_provider(registry: Registry, a: Authorization) -> None:
    if a.refresh_token is None and a.access_token is None:
        return
    adapter = registry.oauth.get(a.provider)
    if adapter is None:
        return
    token = a.refresh_token or a.access_token
    assert token is not None
    # OAuth 1.0a signs the revocation with the access token's secret.
    secret = a.access_token_secret if a.refresh_token is None else None
    try:
        await adapter.revoke(
            token=vault.reveal(token), token_secret=vault.reveal(secret) if secret else None
        )
    except ProviderCallError as error:
        # Deleting must not depend on the provider being up; the secret is destroyed anyway.
        log.warning("Could not revoke a %s token at the provider: %s", a.provider, error.reason)
