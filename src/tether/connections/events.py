"""What happens to connections that other domains react to (see `tether/reactions.py`)."""

from dataclasses import dataclass

from tether.events import DomainEvent
from tether.models import Connection


@dataclass(frozen=True)
class ConnectionSwitched(DomainEvent):
    """The connection now uses another account: what it loaded was the old account's."""

    connection: Connection
    actor: str


@dataclass(frozen=True)
class ConnectionDisconnected(DomainEvent):
    """The connection was switched off on purpose."""

    connection: Connection
    actor: str
