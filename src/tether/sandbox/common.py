"""Pieces shared by the sandbox state modules: errors, users, settings and the lock decorator."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, Protocol, TypeVar, cast

P = ParamSpec("P")
R = TypeVar("R")


class SandboxError(Exception):
    """A refusal that the web layer renders as `{"error": {"code", "message"}}`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class OAuthError(Exception):
    """An RFC 6749 error response (`error` plus a human `error_description`)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass
class SandboxUser:
    id: str
    username: str
    name: str
    email: str
    password: str = field(repr=False)
    api_key: str = field(repr=False)


@dataclass
class Settings:
    access_token_lifetime: int = 3600
    rotate_refresh_tokens: bool = False
    refreshable: bool = True
    non_refreshable_lifetime: int = 60 * 86400
    history_days: int = 1095
    # Not in the original brief: lets tests mimic Google's 7-day refresh tokens of unverified apps.
    refresh_token_lifetime: int | None = None
    # With rotation: presenting a refresh token that was already replaced revokes the grant.
    reuse_detection: bool = False
    # Seconds an asynchronous report (X's stats jobs) takes before it is done; 0: at once.
    report_job_seconds: int = 0
    # Reports made asynchronously (Microsoft's) answer "Pending" to this many polls before
    # they are ready: a slow report, or (with a large number) one that never finishes.
    report_pending_polls: int = 0


class _Lockable(Protocol):
    _lock: threading.RLock
    _revision: int


def locked(method: Callable[P, R]) -> Callable[P, R]:
    """Serialise access: the server thread and test code touch the same state.

    Each call also bumps `_revision`: while it stays the same, nothing changed the state, and
    the keeper of its file (`store.Keeper`) need not even look.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        target = cast("_Lockable", args[0])
        with target._lock:
            target._revision += 1
            return method(*args, **kwargs)

    return wrapper
