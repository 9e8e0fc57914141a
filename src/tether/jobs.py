"""Every domain's background jobs, registered by `load()`: each domain's actors
(`worker.actor.actor`) and due work (`worker.due.register`), so the worker, which imports no
domain, finds them all. The process entry points call it: `tether serve` and `tether worker`.
"""


def load() -> None:
    """Import every domain's tasks module, which registers its jobs (again: a no-op)."""
    import tether.authorizations.tasks
    import tether.connections.tasks
    import tether.health.tasks
    import tether.notifications.tasks
    import tether.sync.tasks  # noqa: F401
