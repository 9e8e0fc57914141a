from enum import StrEnum


class Status(StrEnum):
    """The health of an authorization, an account or a connection (see DESIGN.md, Status)."""

    ACTIVE = "active"
    FAILING = "failing"
    NEEDS_RECONNECT = "needs_reconnect"
    DISCONNECTED = "disconnected"


# Worst last: a connection shows the worse of its own status and its authorization's.
SEVERITY = {
    Status.DISCONNECTED: 0,
    Status.ACTIVE: 1,
    Status.FAILING: 2,
    Status.NEEDS_RECONNECT: 3,
}


def worse(a: str, b: str) -> str:
    return a if SEVERITY[Status(a)] >= SEVERITY[Status(b)] else b


class AuthorizationRole(StrEnum):
    MAIN = "main"
    SECONDARY = "secondary"
