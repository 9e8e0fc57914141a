import uuid
from datetime import datetime

from pydantic import Field

from tether.kit.schemas import Schema


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
    provider: str = Field(min_length=1, max_length=40)
    api_key: str = Field(min_length=1, max_length=2000, repr=False)


class OAuthStartRequest(Schema):
    provider: str = Field(min_length=1, max_length=40)
    return_to: str | None = Field(
        default=None, max_length=500, description="A path in Tether to go back to afterwards."
    )


class OAuthStartRead(Schema):
    authorize_url: str
    expires_at: datetime


class ReconnectRequest(Schema):
    return_to: str | None = Field(
        default=None, max_length=500, description="A path in Tether to go back to afterwards."
    )


class ApiKeyReverify(Schema):
    api_key: str = Field(min_length=1, max_length=2000, repr=False)


class ReconnectResult(Schema):
    authorization_id: uuid.UUID
    restored: int
    still_lapsed: list[str]
