"""Adding a data source: a new authorization, or the renewal of one the same platform user gave.

A person who signs in again as the platform user an authorization already belongs to (from the
README's API walk after its web walk, or simply twice) means that data source, not a second
one beside it: the sign-in renews its credentials in place and restores whatever had lapsed
under it. A second authorization is made only when the member may not reconnect the first one
for everyone (staff who do not see every client it serves), when the grant reaches none of its
accounts, or when it is another platform user altogether.
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.authorizations import repository, restore
from tether.authorizations.permissions import ReconnectMode, reconnect_mode
from tether.authorizations.service import clean_api_key, discover, store_authorization
from tether.errors import Conflict, Forbidden, Unprocessable
from tether.kit.words import plural
from tether.models import Authorization
from tether.providers.base import AuthKind, Credentials
from tether.providers.registry import Registry


@dataclass(frozen=True, slots=True)
class Added:
    """The authorization a sign-in or a key ended in; `renewed` when it already existed."""

    authorization: Authorization
    renewed: restore.Restored | None = None

    def message(self, name: str) -> str:
        """What the person is told, in the provider's name."""
        who = self.authorization.external_user_name
        if self.renewed is None:
            return f"{name} is connected as {who}."
        said = f"{name} was already connected as {who}: its sign-in is renewed, not added twice."
        if self.renewed.restored:
            said += f" {plural(self.renewed.restored, 'connection')} restored."
        if self.renewed.unreachable:
            said += f" Not reachable by this sign-in: {', '.join(self.renewed.unreachable)}."
        return said


async def add_or_renew(
    session: AsyncSession, *, actor: Actor, provider: str, new: restore.Credentials
) -> Added:
    """Store new credentials: into the authorization the same platform user already gave, where
    the member may reconnect it for everyone, else as a new authorization (the provider's main)."""
    existing = await repository.same_user(
        session, actor.organization_id, provider, new.identity.external_user_id
    )
    if existing is not None:
        try:
            mode = await reconnect_mode(session, actor, existing)
            if mode == ReconnectMode.IN_PLACE:
                done = await restore.restore_in_place(
                    session, authorization=existing, new=new, actor=actor.audit_name
                )
                return Added(done.authorization, done)
        except (Forbidden, Conflict):
            pass  # theirs to renew only in part, or the grant reaches none of its accounts
    created = await store_authorization(
        session,
        organization_id=actor.organization_id,
        connector_id=actor.member_id,
        provider=provider,
        identity=new.identity,
        accounts=new.accounts,
        grant=new.grant,
        api_key=new.api_key,
    )
    return Added(created)


async def connect_api_key(
    session: AsyncSession, *, actor: Actor, registry: Registry, provider: str, api_key: str
) -> Added:
    """Verify an API key with the provider, then keep it and discover its accounts."""
    actor.require_writer("connect data sources")
    info = registry.info(provider)
    if info.auth_kind != AuthKind.API_KEY:
        raise Unprocessable(
            f"{info.name} is connected by signing in (OAuth), not with an API key.",
            code="wrong_auth_kind",
        )
    api_key = clean_api_key(api_key)
    identity, accounts = await discover(
        registry.adapter(provider), Credentials(api_key=api_key), info.name
    )
    new = restore.Credentials(identity, accounts, api_key=api_key)
    return await add_or_renew(session, actor=actor, provider=provider, new=new)
