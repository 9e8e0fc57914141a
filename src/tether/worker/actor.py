"""Actors are declared in each domain's `tasks.py` with `@actor("domain.verb")` and bound to the
broker by `declare`, so importing a tasks module never needs a broker to exist yet. `tether.jobs`
imports every tasks module; the worker imports none."""

from collections.abc import Callable
from typing import Any, TypeVar

import dramatiq

F = TypeVar("F", bound=Callable[..., Any])
_functions: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {}
_actors: dict[str, dramatiq.Actor[Any, Any]] = {}


def actor(name: str, **options: Any) -> Callable[[F], F]:
    def register(fn: F) -> F:
        _functions[name] = (fn, options)
        return fn

    return register


def declare(broker: dramatiq.Broker) -> dict[str, dramatiq.Actor[Any, Any]]:
    """Bind every registered actor to this broker (`tether.jobs` registers them)."""
    if not _functions:
        raise RuntimeError("No actors are registered: import tether.jobs before declaring them.")
    _actors.clear()
    for name, (fn, options) in _functions.items():
        # Jobs are re-driven from the database, so Dramatiq's own retries would only duplicate.
        options = {"max_retries": 0, "queue_name": "default", **options}
        queue = options.pop("queue_name")
        _actors[name] = dramatiq.Actor(
            fn, broker=broker, actor_name=name, queue_name=queue, priority=0, options=options
        )
    return dict(_actors)


def send(name: str, *args: Any) -> None:
    """Enqueue a job by name. Call after the transaction that made it due has committed."""
    _actors[name].send(*args)


def queues() -> set[str]:
    """The queues the registered actors use (what /metrics reports the depth of)."""
    return {options.get("queue_name", "default") for _, options in _functions.values()}
