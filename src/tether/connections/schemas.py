import uuid
from datetime import datetime

from pydantic import Field

from tether.kit.schemas import Schema


class ConnectionRead(Schema):
    id: uuid.UUID
    client_id: uuid.UUID
    client_name: str
    provider: str
    authorization_id: uuid.UUID
    account_id: uuid.UUID
    account_name: str
    account_external_id: str
    status: str
    reason: str | None
    message: str | None
    created_at: datetime
    updated_at: datetime
    last_synced_at: datetime | None


class ConnectionCreate(Schema):
    """Name the account by `account_id`, or by `provider` + `external_id` (main authorization)."""

    client_id: uuid.UUID
    account_id: uuid.UUID | None = None
    provider: str | None = Field(default=None, max_length=40)
    external_id: str | None = Field(default=None, max_length=200)


class ConnectionCounts(Schema):
    active: int
    failing: int
    needs_reconnect: int
    disconnected: int
    total: int
