import uuid
from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field

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
    email: EmailStr
    name: str = Field(default="", max_length=200)
    role: Role
    # "all", or the ids of the clients a staff member may see.
    client_access: Literal["all"] | list[uuid.UUID] = "all"
    password: str | None = Field(default=None, min_length=10, max_length=200)


class MemberUpdate(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    client_access: Literal["all"] | list[uuid.UUID] | None = None
    password: str | None = Field(default=None, min_length=10, max_length=200)


class TokenRead(Schema):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class TokenCreate(Schema):
    name: str = Field(min_length=1, max_length=200)


class TokenCreated(TokenRead):
    token: str = Field(description="The token itself. Shown only in this answer: keep it safe.")
