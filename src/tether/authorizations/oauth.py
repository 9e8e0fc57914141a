"""Signing in to a provider: OAuth 2.0's authorization-code flow with `state` and PKCE (RFC 6749,
RFC 7636), and OAuth 1.0a's three legs (RFC 5849), whose request token names the attempt.

Either way one attempt row binds what the callback brings back (its SHA-256) to the member who
started, keeps the one secret the callback needs sealed (the PKCE verifier, or the request
token's secret), expires, and is spent at its first callback whatever happens.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tether import vault
from tether.actor import Actor
from tether.authorizations import connect, repository, restore
from tether.authorizations.service import discover
from tether.db import utcnow
from tether.errors import NotFound, ProviderError, TetherError
from tether.kit.words import plural
from tether.members import repository as members
from tether.members.service import actor_for
from tether.models import Authorization, OAuthState
from tether.providers.base import Consent, Credentials, ProviderCallError
from tether.providers.registry import Registry


@dataclass(frozen=True, slots=True)
class OAuthStart:
    authorize_url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OAuthOutcome:
    """How a consent ended: an authorization, or a message for the person and an HTTP status."""

    authorization: Authorization | None
    provider: str | None
    message: str
    status: int
    return_to: str | None = None


async def start(
    session: AsyncSession,
    *,
    actor: Actor,
    registry: Registry,
    provider: str,
    redirect_uri: str,
    lifetime: timedelta,
    return_to: str | None = None,
    authorization_id: uuid.UUID | None = None,
    connection_id: uuid.UUID | None = None,
) -> OAuthStart:
    """Record a new attempt (to add a data source, or to reconnect one) and return the
    provider's consent URL for it."""
    actor.require_writer("connect data sources")
    consent = await _consent(registry, provider, redirect_uri)
    expires_at = utcnow() + lifetime
    session.add(
        OAuthState(
            state_hash=_digest(consent.handle),
            organization_id=actor.organization_id,
            member_id=actor.member_id,
            provider=provider,
            secret=vault.seal(consent.secret),
            return_to=return_to,
            expires_at=expires_at,
            authorization_id=authorization_id,
            connection_id=connection_id,
        )
    )
    await session.flush()
    return OAuthStart(consent.url, expires_at)


async def _consent(registry: Registry, provider: str, redirect_uri: str) -> Consent:
    """The provider's consent for a new attempt (OAuth 1.0a asks the provider for it first)."""
    adapter = registry.oauth_adapter(provider)
    try:
        return await adapter.start_consent(
            state=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64),
            redirect_uri=redirect_uri,
        )
    except ProviderCallError as failure:
        name = registry.info(provider).name
        raise ProviderError(
            f"{name} did not let the sign-in start: {failure.message}", reason=failure.reason
        ) from None


async def complete(
    session: AsyncSession,
    *,
    registry: Registry,
    state: str | None,
    code: str | None,
    error: str | None,
    redirect_uri: str,
) -> OAuthOutcome:
    """Finish a consent: `state` is what names the attempt (OAuth 1.0a's request token), `code`
    what proves the consent (its verifier). The attempt is spent whatever happens, so it can
    never be replayed."""
    attempt = await repository.state_by_hash(session, _digest(state)) if state else None
    if attempt is None or state is None:
        return _refused(
            None, "This sign-in link is not one Tether started. Start connecting again."
        )
    if attempt.used_at is not None:
        return _refused(attempt, "This sign-in was already completed. Start connecting again.")
    attempt.used_at = utcnow()
    await session.flush()
    if attempt.expires_at < attempt.used_at:
        return _refused(attempt, "This sign-in took too long and expired. Start connecting again.")
    name = registry.info(attempt.provider).name
    if error:
        return _refused(
            attempt, f"Access was not granted on {name} ({error}); nothing was connected."
        )
    if not code:
        return _refused(attempt, f"{name} sent no authorization code; nothing was connected.")
    try:
        new = await _exchange(registry, attempt, state, code, redirect_uri)
        authorization, message = await _apply(session, attempt, new, name)
    except TetherError as failure:
        return _refused(attempt, failure.message, status=failure.status)
    return OAuthOutcome(authorization, attempt.provider, message, 200, attempt.return_to)


async def _exchange(
    registry: Registry, attempt: OAuthState, handle: str, code: str, redirect_uri: str
) -> restore.Credentials:
    """Trade the code (OAuth 1.0a's verifier) for a grant, then learn whose it is and what it
    reaches."""
    adapter = registry.oauth_adapter(attempt.provider)
    name = registry.info(attempt.provider).name
    try:
        grant = await adapter.finish_consent(
            handle=handle,
            secret=vault.reveal(attempt.secret),
            code=code,
            redirect_uri=redirect_uri,
        )
    except ProviderCallError as failure:
        raise ProviderError(
            f"{name} did not accept the sign-in: {failure.message}",
            reason=failure.reason,
            status=400,
        ) from None
    credentials = Credentials(access_token=grant.access_token, token_secret=grant.token_secret)
    identity, accounts = await discover(registry.adapter(attempt.provider), credentials, name)
    return restore.Credentials(identity, accounts, grant=grant)


async def _apply(
    session: AsyncSession, attempt: OAuthState, new: restore.Credentials, name: str
) -> tuple[Authorization, str]:
    actor = f"member:{attempt.member_id}"
    if attempt.authorization_id is None:
        added = await connect.add_or_renew(
            session, actor=await _starter(session, attempt), provider=attempt.provider, new=new
        )
        return added.authorization, added.message(name)
    old = await repository.get(session, attempt.organization_id, attempt.authorization_id)
    if old is None:
        raise NotFound(restore.GONE)
    if attempt.connection_id is not None:
        done = await restore.reconnect_own_clients(
            session, old=old, member=await _starter(session, attempt), new=new
        )
        restored = plural(done.restored, "connection")
        return done.authorization, f"{name} is reconnected for {restored} of yours."
    done = await restore.restore_in_place(session, authorization=old, new=new, actor=actor)
    message = f"{name} is reconnected: {plural(done.restored, 'connection')} restored."
    if done.unreachable:
        message += f" Still lapsed, not reachable by this sign-in: {', '.join(done.unreachable)}."
    return done.authorization, message


async def _starter(session: AsyncSession, attempt: OAuthState) -> Actor:
    """The member who started this sign-in, as they stand now."""
    member = await members.get(session, attempt.organization_id, attempt.member_id)
    if member is None:
        raise NotFound("The member who started this sign-in no longer exists.")
    return await actor_for(session, member)


def _refused(attempt: OAuthState | None, message: str, *, status: int = 400) -> OAuthOutcome:
    provider = attempt.provider if attempt else None
    return OAuthOutcome(None, provider, message, status, attempt.return_to if attempt else None)


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()
