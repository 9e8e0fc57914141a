from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Job:
    """A message for an actor, by name; `size` counts the items it carries."""

    actor: str
    args: tuple[object, ...]
    size: int
