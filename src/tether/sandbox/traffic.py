"""Faults (global and per user) and call statistics of `SandboxState`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from tether.sandbox.common import SandboxError, SandboxUser, locked

# What `/control/stats` counts, by endpoint.
CALL_KINDS = ("me", "accounts", "metrics", "token_refresh", "token_exchange", "revoke")


@dataclass
class Faults:
    down: bool = False
    throttle_retry_after: int | None = None
    slow_ms: int = 0


_NO_FAULTS = Faults()


def combine(outer: Faults, inner: Faults) -> Faults:
    """Faults of a user who has their own on top of the global ones: the worse of each."""
    throttle = inner.throttle_retry_after
    return Faults(
        down=outer.down or inner.down,
        throttle_retry_after=outer.throttle_retry_after if throttle is None else throttle,
        slow_ms=max(outer.slow_ms, inner.slow_ms),
    )


def apply_changes(target: Any, changes: dict[str, Any]) -> None:
    """Set dataclass fields by name; unknown names are refused with `invalid_request`."""
    names = {f.name for f in fields(target)}
    unknown = set(changes) - names
    if unknown:
        raise SandboxError("invalid_request", f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    for name, value in changes.items():
        setattr(target, name, value)


class TrafficMixin:
    """Faults and call counters of `SandboxState`.

    A mixin: the host class provides `_lock` and `user()`, and calls `_clear_traffic()`
    whenever it (re)builds its world.
    """

    if TYPE_CHECKING:

        def user(self, username: str) -> SandboxUser: ...

    def _clear_traffic(self) -> None:
        self.faults = Faults()
        self.user_faults: dict[str, Faults] = {}
        # (username or None when the caller was not identified, kind, succeeded) -> calls.
        self._calls: Counter[tuple[str | None, str, bool]] = Counter()

    def _restore_faults(self, snapshot: dict[str, Any]) -> None:
        """Faults as `_faults_snapshot()` gave them."""
        self.faults = Faults(**snapshot["global"])
        for username, own in snapshot["users"].items():
            self.user(username)
            self.user_faults[username] = Faults(**own)

    # -- faults ----------------------------------------------------------------------------

    @locked
    def set_faults(self, **changes: Any) -> Faults:
        """Change some global faults (`down`, `throttle_retry_after`, `slow_ms`)."""
        apply_changes(self.faults, changes)
        return self.faults

    @locked
    def set_user_faults(self, usernames: Iterable[str], **changes: Any) -> dict[str, Faults]:
        """Change some faults of these users only; returns every user's own faults."""
        names = list(usernames)
        for username in names:
            self.user(username)
        apply_changes(Faults(), changes)
        for username in names:
            own = self.user_faults.get(username) or Faults()
            apply_changes(own, changes)
            if own == _NO_FAULTS:
                self.user_faults.pop(username, None)
            else:
                self.user_faults[username] = own
        return dict(self.user_faults)

    @locked
    def clear_faults(self) -> Faults:
        """Turn every fault off, global and per user; returns the (cleared) global faults."""
        self.faults = Faults()
        self.user_faults = {}
        return self.faults

    def faults_for(self, username: str | None) -> Faults:
        """Faults a call made with this user's credentials meets (global ones if None)."""
        own = None if username is None else self.user_faults.get(username)
        return self.faults if own is None else combine(self.faults, own)

    @locked
    def faults_snapshot(self) -> dict[str, Any]:
        """`{"global": {...}, "users": {"alice": {...}}}` for the control API."""
        return self._faults_snapshot()

    def _faults_snapshot(self) -> dict[str, Any]:
        users = {name: asdict(f) for name, f in sorted(self.user_faults.items())}
        return {"global": asdict(self.faults), "users": users}

    # -- call statistics ---------------------------------------------------------------------

    @locked
    def record_call(self, kind: str, username: str | None, *, ok: bool) -> None:
        """Count one answered call; `username` is None when the caller was not identified."""
        self._calls[username, kind, ok] += 1

    @locked
    def stats(self) -> dict[str, Any]:
        """Calls per user and in total, per kind, split into `ok` and `failed`.

        Totals also count calls whose caller was not identified (bad token, unknown code), so
        they can exceed the sum over users.
        """
        users: dict[str, dict[str, dict[str, int]]] = {}
        totals = _empty_counts()
        for (username, kind, ok), count in self._calls.items():
            outcome = "ok" if ok else "failed"
            totals.setdefault(kind, {"ok": 0, "failed": 0})[outcome] += count
            if username is not None:
                counts = users.setdefault(username, _empty_counts())
                counts.setdefault(kind, {"ok": 0, "failed": 0})[outcome] += count
        return {"users": dict(sorted(users.items())), "totals": totals}

    @locked
    def reset_stats(self) -> None:
        """Forget every counted call."""
        self._calls.clear()


def _empty_counts() -> dict[str, dict[str, int]]:
    return {kind: {"ok": 0, "failed": 0} for kind in CALL_KINDS}
