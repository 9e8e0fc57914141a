"""Domain events: a domain says what happened, and the domains that care react, in the same
transaction.

A domain publishes with `await publish(session, SomethingHappened(...))`. Every handler
subscribed to that type then runs at once, in the order of subscription, inside the caller's
transaction: what the handlers write commits or rolls back with what the publisher wrote, so no
reaction is lost or done for a change that did not happen. The publisher never imports the
domains that react. Who reacts to what is one table, `tether/reactions.py`, loaded the first
time anything is published.

An event is a frozen dataclass deriving from `DomainEvent`, declared in the `events.py` of the
domain that publishes it. It may carry the ORM objects it is about: it lives only as long as
the transaction.
"""

import importlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession


class DomainEvent:
    """What happened in a domain, told to the domains that react to it. (Subclasses are plain
    frozen dataclasses: `slots=True` would make a second class that `__subclasses__` lists.)"""


E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[AsyncSession, Any], Awaitable[None]]

REACTIONS = "tether.reactions"
_handlers: dict[type[DomainEvent], list[Handler]] = {}


def subscribe(event_type: type[E], handler: Callable[[AsyncSession, E], Awaitable[None]]) -> None:
    """Have `handler` run whenever an event of this type is published."""
    _handlers.setdefault(event_type, []).append(handler)


async def publish(session: AsyncSession, event: DomainEvent) -> None:
    """Run every handler of this event's type now, in the caller's transaction."""
    importlib.import_module(REACTIONS)  # once: who reacts to what
    for handler in _handlers.get(type(event), ()):
        await handler(session, event)


def subscribed() -> dict[type[DomainEvent], list[Handler]]:
    """Every event type with its handlers, in order (for tests and docs)."""
    importlib.import_module(REACTIONS)
    return {kind: list(handlers) for kind, handlers in _handlers.items()}
