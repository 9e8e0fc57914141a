"""What happens to authorizations that other domains react to (see `tether/reactions.py`)."""

import uuid
from dataclasses import dataclass

from tether.events import DomainEvent
from tether.models import Account, Authorization


@dataclass(frozen=True)
class AuthorizationRestored(DomainEvent):
    """A new sign-in or API key made the authorization work again, for every client."""

    authorization: Authorization
    actor: str


@dataclass(frozen=True)
class ConnectionsReconnected(DomainEvent):
    """These connections were moved to a new authorization that reaches their accounts."""

    connection_ids: list[uuid.UUID]
    actor: str


@dataclass(frozen=True)
class AccountLost(DomainEvent):
    """The authorization's new grant no longer reaches this account."""

    authorization: Authorization
    account: Account
    message: str
    actor: str


@dataclass(frozen=True)
class AuthorizationDeleted(DomainEvent):
    """The authorization is being deleted (no connection used it)."""

    authorization: Authorization
    actor: str
