import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from tether.kit.inputs import Email, Name
from tether.kit.schemas import Schema
from tether.models.member import Role


class MemberRead(Schema):
    id: uuid.UUID
    email: str
    name: str
    role: Role
    client_access: Literal["all"] | list[uuid.UUID]
    created_at: datetime


class MemberCreate(Schema):
    email: Email
    # Without one, the member is known by their email address.
    name: Name | None = None
    role: Role
    # "all", or the ids of the clients a staff member may see.
    client_access: Literal["all"] | list[uuid.UUID] = "all"
    password: str | None = Field(default=None, min_length=10, max_length=200)


class MemberUpdate(Schema):
    name: Name | None = None
    role: Role | None = None
    client_access: Literal["all"] | list[uuid.UUID] | None = None
    password: str | None = Field(default=None, min_length=10, max_length=200)


class TokenRead(Schema):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="When the token was last used, to the minute; None if never."
    )
    expires_at: datetime | None = Field(
        description="When the token stops working; None if it works until it is revoked."
    )


class TokenCreate(Schema):
    name: Name
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=365,
        description="Days until the token stops working (1 to 365); leave out for no expiry.",
    )


class PasswordChange(Schema):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=10, max_length=200)


class TokenCreated(TokenRead):
    token: str = Field(description="The token itself. Shown only in this answer: keep it safe.")
