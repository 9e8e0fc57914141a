import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from tether.kit.redirects import LocalPath
from tether.kit.schemas import Schema
from tether.providers.custom_spec import KEY_PATTERN

ProviderKey = Annotated[str, Field(pattern=KEY_PATTERN, description="A provider's key: sandbox.")]


class ConnectorRead(Schema):
    id: uuid.UUID
    name: str
    email: str


class AuthorizationRead(Schema):
    """An authorization as members see it. Its secrets are never part of any answer."""

    id: uuid.UUID
    provider: str
    role: str
    status: str
    reason: str | None
    message: str | None
    external_user_id: str
    external_user_name: str
    connector: ConnectorRead | None
    account_count: int
    expires_at: datetime | None
    # A refresh token's fixed end, where the provider has one (it cannot be moved by refreshing).
    refresh_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_synced_at: datetime | None


class AccountRead(Schema):
    id: uuid.UUID
    authorization_id: uuid.UUID
    external_id: str
    name: str
    currency: str | None
    # The manager account it is reached through (Google Ads' login-customer-id), if any.
    manager_external_id: str | None
    status: str
    client_count: int
    created_at: datetime
    last_synced_at: datetime | None


class ApiKeyConnect(Schema):
    provider: ProviderKey
    api_key: str = Field(min_length=1, max_length=2000, repr=False)


class OAuthStartRequest(Schema):
    provider: ProviderKey
    return_to: LocalPath | None = None


class OAuthStartRead(Schema):
    authorize_url: str
    expires_at: datetime


class ReconnectRequest(Schema):
    return_to: LocalPath | None = None


class ApiKeyReverify(Schema):
    api_key: str = Field(min_length=1, max_length=2000, repr=False)


class ReconnectResult(Schema):
    authorization_id: uuid.UUID
    restored: int
    still_lapsed: list[str]
