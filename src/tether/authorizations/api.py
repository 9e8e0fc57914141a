"""/api/v1/authorizations: connect data sources and see what each grant reaches."""

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.authorizations import connect, manage, oauth, service
from tether.authorizations.schemas import (
    AccountRead,
    ApiKeyConnect,
    ApiKeyReverify,
    AuthorizationRead,
    ConnectorRead,
    OAuthStartRead,
    OAuthStartRequest,
    ReconnectRequest,
    ReconnectResult,
)
from tether.authorizations.service import ACCOUNT_SORTS, AuthorizationRow
from tether.deps import CurrentActor, RegistryDep, SessionDep, SettingsDep
from tether.kit.inputs import Cursor, Limit, ProviderFilter, sort_query
from tether.kit.pagination import parse_sort
from tether.kit.schemas import Counted, ListOf
from tether.models import Status

router = APIRouter(tags=["authorizations"])


def _read(row: AuthorizationRow) -> AuthorizationRead:
    a, connector = row.authorization, row.connector
    return AuthorizationRead(
        id=a.id,
        provider=a.provider,
        role=a.role,
        status=a.status,
        reason=a.reason,
        message=a.message,
        external_user_id=a.external_user_id,
        external_user_name=a.external_user_name,
        connector=ConnectorRead.model_validate(connector) if connector else None,
        account_count=row.account_count,
        expires_at=a.expires_at,
        refresh_expires_at=a.refresh_expires_at,
        created_at=a.created_at,
        updated_at=a.updated_at,
        last_synced_at=a.last_synced_at,
    )


async def authorization_read(
    session: AsyncSession, actor: Actor, authorization_id: uuid.UUID
) -> AuthorizationRead:
    return _read(
        await service.authorization_row(session, actor=actor, authorization_id=authorization_id)
    )


@router.get("/authorizations")
async def list_authorizations(
    session: SessionDep,
    actor: CurrentActor,
    provider: ProviderFilter = None,
    status: Status | None = None,
) -> Counted[AuthorizationRead]:
    rows = await service.list_authorizations(session, actor=actor, provider=provider, status=status)
    return Counted(data=[_read(row) for row in rows], total=len(rows))


@router.post(
    "/authorizations",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The key's user had connected already: renewed in place"}},
)
async def connect_api_key(
    session: SessionDep,
    actor: CurrentActor,
    registry: RegistryDep,
    body: ApiKeyConnect,
    response: Response,
) -> AuthorizationRead:
    """Connect an API-key provider: the key is verified with the provider before it is kept.
    A key of a user who already connected this provider renews that authorization (200)."""
    added = await connect.connect_api_key(
        session, actor=actor, registry=registry, provider=body.provider, api_key=body.api_key
    )
    if added.renewed is not None:
        response.status_code = status.HTTP_200_OK
    return await authorization_read(session, actor, added.authorization.id)


@router.post("/authorizations/oauth/start")
async def start_oauth(
    session: SessionDep,
    actor: CurrentActor,
    registry: RegistryDep,
    settings: SettingsDep,
    body: OAuthStartRequest,
) -> OAuthStartRead:
    """Begin connecting an OAuth provider: open `authorize_url` in the member's browser."""
    started = await oauth.start(
        session,
        actor=actor,
        registry=registry,
        provider=body.provider,
        redirect_uri=settings.oauth_redirect_uri,
        lifetime=timedelta(seconds=settings.oauth_state_lifetime_seconds),
        return_to=body.return_to,
    )
    return OAuthStartRead(authorize_url=started.authorize_url, expires_at=started.expires_at)


@router.get("/authorizations/{authorization_id}")
async def get_authorization(
    session: SessionDep, actor: CurrentActor, authorization_id: uuid.UUID
) -> AuthorizationRead:
    return await authorization_read(session, actor, authorization_id)


@router.get("/authorizations/{authorization_id}/accounts")
async def list_accounts(
    session: SessionDep,
    actor: CurrentActor,
    authorization_id: uuid.UUID,
    sort: Annotated[str, sort_query(ACCOUNT_SORTS)] = "name",
    cursor: Cursor = None,
    limit: Limit = 50,
) -> ListOf[AccountRead]:
    page = await service.list_accounts(
        session,
        actor=actor,
        authorization_id=authorization_id,
        sort=parse_sort(sort, ACCOUNT_SORTS, "name"),
        cursor=cursor,
        limit=limit,
    )
    data = [
        AccountRead(
            id=row.account.id,
            authorization_id=row.account.authorization_id,
            external_id=row.account.external_id,
            name=row.account.name,
            currency=row.account.currency,
            manager_external_id=row.account.manager_external_id,
            status=row.account.status,
            client_count=row.client_count,
            created_at=row.account.created_at,
            last_synced_at=row.account.last_synced_at,
        )
        for row in page.items
    ]
    return ListOf(data=data, next_cursor=page.next_cursor)


@router.post("/authorizations/{authorization_id}/reconnect")
async def reconnect(
    session: SessionDep,
    actor: CurrentActor,
    registry: RegistryDep,
    settings: SettingsDep,
    authorization_id: uuid.UUID,
    body: ReconnectRequest | None = None,
) -> OAuthStartRead:
    """Sign in again: the grant replaces this authorization's in place, for every client."""
    return_to = body.return_to if body else None
    started = await manage.start_reconnect(
        session,
        actor=actor,
        registry=registry,
        redirect_uri=settings.oauth_redirect_uri,
        lifetime=timedelta(seconds=settings.oauth_state_lifetime_seconds),
        authorization_id=authorization_id,
        return_to=return_to,
    )
    return OAuthStartRead(authorize_url=started.authorize_url, expires_at=started.expires_at)


@router.put("/authorizations/{authorization_id}/api-key")
async def reverify_api_key(
    session: SessionDep,
    actor: CurrentActor,
    registry: RegistryDep,
    authorization_id: uuid.UUID,
    body: ApiKeyReverify,
) -> ReconnectResult:
    """Enter an API key again: verified with the provider, then it restores this source."""
    done = await manage.reverify_api_key(
        session,
        actor=actor,
        registry=registry,
        authorization_id=authorization_id,
        api_key=body.api_key,
    )
    return ReconnectResult(
        authorization_id=done.authorization.id,
        restored=done.restored,
        still_lapsed=done.unreachable,
    )


@router.post("/authorizations/{authorization_id}/promote")
async def promote(
    session: SessionDep, actor: CurrentActor, authorization_id: uuid.UUID
) -> AuthorizationRead:
    """Make this the main authorization of its provider: new connections default to it."""
    await manage.promote(session, actor=actor, authorization_id=authorization_id)
    return await authorization_read(session, actor, authorization_id)


@router.delete("/authorizations/{authorization_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_authorization(
    session: SessionDep, actor: CurrentActor, registry: RegistryDep, authorization_id: uuid.UUID
) -> None:
    """Delete an unused authorization; 409 names the clients while any still use it."""
    await manage.delete(session, actor=actor, registry=registry, authorization_id=authorization_id)
