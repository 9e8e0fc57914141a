import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from tether.db import utcnow
from tether.kit.inputs import Email, Name
from tether.kit.schemas import Schema
from tether.models import Invitation
from tether.models.member import Role


class MemberRead(Schema):
    id: uuid.UUID
    email: str
    name: str
    role: Role
    client_access: Literal["all"] | list[uuid.UUID]
    created_at: datetime


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


class InvitationCreate(Schema):
    email: Email
    # How the invitation email greets them; they choose the name they keep when they accept.
    name: Name | None = None
    role: Role
    # "all", or the ids of the clients a staff member will see.
    client_access: Literal["all"] | list[uuid.UUID] = "all"


class InvitationRead(Schema):
    id: uuid.UUID
    email: str
    name: str
    role: Role
    client_access: Literal["all"] | list[uuid.UUID]
    status: Literal["pending", "expired"] = Field(
        description="`pending` until accepted (then the person is a member) or expired."
    )
    email_status: Literal["sending", "sent", "not_delivered"] = Field(
        description="Whether the invitation email went out; `not_delivered` comes with a reason."
    )
    email_error: str | None = Field(
        description="Why the email could not be delivered (the mail server's answer), if so."
    )
    invited_by_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime


def read_invitation(invitation: Invitation) -> InvitationRead:
    ids = invitation.client_ids
    sent = invitation.email_sent_at is not None
    email_status: Literal["sending", "sent", "not_delivered"] = "sending"
    if sent:
        email_status = "sent"
    elif invitation.email_abandoned_at is not None:
        email_status = "not_delivered"
    return InvitationRead(
        id=invitation.id,
        email=invitation.email,
        name=invitation.name,
        role=Role(invitation.role),
        client_access="all" if ids is None else sorted(uuid.UUID(i) for i in ids),
        status="pending" if invitation.expires_at > utcnow() else "expired",
        email_status=email_status,
        email_error=None if sent else invitation.email_last_error,
        invited_by_id=invitation.invited_by_id,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )
