"""Authorizations: grants of access made by members, and the accounts they reach."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tether import vault
from tether.actor import Actor
from tether.authorizations import counts_repository, repository
from tether.db import utcnow
from tether.errors import BadRequest, NotFound, ProviderError, Unprocessable
from tether.kit.crypto import Sealed
from tether.kit.pagination import Page, Sort, decode_cursor, paginate
from tether.models import Account, Authorization, Member
from tether.models.status import AuthorizationRole
from tether.providers.base import (
    Credentials,
    ExternalAccount,
    Identity,
    ProviderCallError,
    TokenGrant,
)

ACCOUNT_SORTS = ("name", "external_id", "created_at", "last_synced_at", "status")


@dataclass(frozen=True, slots=True)
class AuthorizationRow:
    authorization: Authorization
    connector: Member | None
    account_count: int


@dataclass(frozen=True, slots=True)
class ProviderSummary:
    """How one provider stands in an organization: its authorizations, and how many lapsed."""

    authorizations: int
    needs_reconnect: int
    failing: int


@dataclass(frozen=True, slots=True)
class AccountRow:
    account: Account
    client_count: int

    @property
    def id(self) -> uuid.UUID:
        return self.account.id

    def __getattr__(self, name: str) -> Any:
        # Lets paginate() read the sort value straight off the account.
        return getattr(self.account, name)


def clean_api_key(api_key: str) -> str:
    """The key as pasted, less the blanks around it; refused when it could not be a key (it
    goes into an HTTP header: visible ASCII only), in words that say what is wrong."""
    api_key = api_key.strip()
    if not api_key:
        raise Unprocessable("Enter the API key.", code="invalid_api_key")
    odd = next((c for c in api_key if not "!" <= c <= "~"), None)
    if odd is not None:
        what = "spaces or line breaks" if odd.isspace() else f"the character {odd!r}"
        raise Unprocessable(
            f"An API key is letters, digits and punctuation only; this one holds {what}. "
            "Paste the key itself, nothing around it (an example's … stands for the key).",
            code="invalid_api_key",
        )
    return api_key


async def discover(
    adapter: Any, credentials: Credentials, provider_name: str
) -> tuple[Identity, list[ExternalAccount]]:
    """Who the credentials belong to and which accounts they reach, or a clear refusal."""
    try:
        identity = await adapter.identify(credentials)
        accounts = await adapter.list_accounts(credentials)
    except ProviderCallError as error:
        status = 422 if error.status is not None and error.status < 500 else 502
        raise ProviderError(
            f"{provider_name} refused the connection: {error.message}",
            reason=error.reason,
            status=status,
        ) from None
    return identity, accounts


async def store_authorization(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    connector_id: uuid.UUID,
    provider: str,
    identity: Identity,
    accounts: Sequence[ExternalAccount],
    grant: TokenGrant | None = None,
    api_key: str | None = None,
    role: AuthorizationRole = AuthorizationRole.MAIN,
) -> Authorization:
    """A new authorization with its accounts; a new main one makes the older ones secondary."""
    authorization = Authorization(
        id=uuid.uuid4(),
        organization_id=organization_id,
        provider=provider,
        connector_id=connector_id,
        role=role,
        external_user_id=identity.external_user_id,
        external_user_name=identity.name,
        scope=grant.scope if grant else None,
        access_token=vault.seal(grant.access_token) if grant else None,
        access_token_secret=seal_if_any(grant.token_secret if grant else None),
        refresh_token=seal_if_any(grant.refresh_token if grant else None),
        expires_at=grant.expires_at if grant else None,
        refresh_expires_at=grant.refresh_expires_at if grant else None,
        api_key=vault.seal(api_key) if api_key else None,
        # Checked at the scheduler's next pass, which also settles when to refresh it.
        next_check_at=utcnow(),
    )
    session.add(authorization)
    await session.flush()
    session.add_all(
        Account(
            organization_id=organization_id,
            authorization_id=authorization.id,
            external_id=account.external_id,
            name=account.name,
            currency=account.currency,
            manager_external_id=account.manager_id,
        )
        for account in {a.external_id: a for a in accounts}.values()
    )
    if role == AuthorizationRole.MAIN:
        await repository.demote_others(session, organization_id, provider, authorization.id)
    await session.flush()
    return authorization


async def list_authorizations(
    session: AsyncSession, *, actor: Actor, provider: str | None, status: str | None
) -> list[AuthorizationRow]:
    rows = await repository.list_with_connector(
        session, actor.organization_id, provider=provider, status=status
    )
    return [AuthorizationRow(*row) for row in rows]


async def authorization_row(
    session: AsyncSession, *, actor: Actor, authorization_id: uuid.UUID
) -> AuthorizationRow:
    """One authorization with its connector and account count."""
    rows = await repository.list_with_connector(
        session, actor.organization_id, authorization_id=authorization_id
    )
    if not rows:
        raise NotFound("No such authorization.")
    return AuthorizationRow(*rows[0])


async def get_authorization(
    session: AsyncSession, *, actor: Actor, authorization_id: uuid.UUID
) -> Authorization:
    authorization = await repository.get(session, actor.organization_id, authorization_id)
    if authorization is None:
        raise NotFound("No such authorization.")
    return authorization


async def list_accounts(
    session: AsyncSession,
    *,
    actor: Actor,
    authorization_id: uuid.UUID,
    sort: Sort,
    cursor: str | None,
    limit: int,
) -> Page[AccountRow]:
    """The accounts an authorization reaches, with how many of the actor's clients use each."""
    await get_authorization(session, actor=actor, authorization_id=authorization_id)
    after = decode_cursor(cursor, sort) if cursor else None
    rows = await repository.accounts_page(
        session, authorization_id, sort=sort, after=after, limit=limit,
        visible_client_ids=actor.client_ids,
    )  # fmt: skip
    return paginate([AccountRow(*row) for row in rows], sort=sort, limit=limit, key=sort.field)


def credentials_of(authorization: Authorization) -> Credentials:
    """Open the authorization's secret for one provider call."""
    if authorization.api_key is not None:
        return Credentials(api_key=vault.reveal(authorization.api_key))
    if authorization.access_token is None:
        raise BadRequest("This authorization holds no credentials.", code="no_credentials")
    secret = authorization.access_token_secret
    return Credentials(
        access_token=vault.reveal(authorization.access_token),
        token_secret=vault.reveal(secret) if secret is not None else None,
    )


def seal_if_any(secret: str | None) -> Sealed | None:
    """A secret a grant may not have (a refresh token, a token secret), sealed when it has."""
    return vault.seal(secret) if secret else None


async def accounts_of_provider(
    session: AsyncSession, *, actor: Actor, provider: str, search: str | None, limit: int
) -> Sequence[Account]:
    """The organization's accounts of one provider, whichever authorization reaches them."""
    return await repository.accounts_of_provider(
        session, actor.organization_id, provider, search=search, limit=limit
    )


async def provider_summaries(session: AsyncSession, *, actor: Actor) -> dict[str, ProviderSummary]:
    """Every provider the organization has connected, with its counts (kept by the database)."""
    rows = await counts_repository.by_provider(session, actor.organization_id)
    return {provider: ProviderSummary(total, lapsed, failing)
            for provider, total, lapsed, failing in rows}  # fmt: skip


async def provider_summary(
    session: AsyncSession, *, actor: Actor, provider: str
) -> ProviderSummary:
    """One provider's counts of authorizations (all zero when it was never connected)."""
    rows = await counts_repository.by_provider(session, actor.organization_id, provider)
    return ProviderSummary(*rows[0][1:]) if rows else ProviderSummary(0, 0, 0)


AUTHORIZATIONS_SORT = Sort("created_at", descending=True)


async def list_authorizations_page(
    session: AsyncSession,
    *,
    actor: Actor,
    provider: str | Sequence[str],
    status: str | None,
    cursor: str | None,
    limit: int,
) -> Page[AuthorizationRow]:
    """A page of one provider's (or a few providers') authorizations, newest first: an
    organization can hold thousands of one provider's."""
    sort = AUTHORIZATIONS_SORT
    after = decode_cursor(cursor, sort) if cursor else None
    rows = await repository.authorizations_page(
        session, actor.organization_id, provider, status=status, sort=sort, after=after,
        limit=limit,
    )  # fmt: skip
    page = paginate([row[0] for row in rows], sort=sort, limit=limit, key=sort.field)
    return Page([AuthorizationRow(*row) for row in rows[:limit]], page.next_cursor)


@dataclass(frozen=True, slots=True)
class Usage:
    """Who uses an authorization: `clients` counts those the member may see; `in_use` is for
    every client, since an authorization in use cannot be deleted."""

    clients: int = 0
    in_use: bool = False


async def clients_using(
    session: AsyncSession, *, actor: Actor, authorization_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Usage]:
    """How many of the actor's clients use each authorization, and whether any client does."""
    counts = await repository.client_counts(
        session, actor.organization_id, authorization_ids, actor.client_ids
    )
    return {a: Usage(seen, every > 0) for a, (seen, every) in counts.items()}


async def providers_in_use(session: AsyncSession, *, actor: Actor) -> list[str]:
    """The providers this organization has connected at least once."""
    return await repository.providers_in_use(session, actor.organization_id)
