"""The sandbox's world kept in a file, so that a sandbox mounted in Tether survives restarts.

`load()` reads the file at start (or seeds a fresh world); `Keeper` saves it while Tether
runs. Changes reach the state from the sandbox's routes, its dialects and Tether's own pages,
so the keeper does not hook any of them: every second, if the state's revision moved (any call
under its lock moves it), it takes a snapshot and writes it when it differs from the last one
written; it writes once more at shutdown. A kill loses at most the last second, or, for a world
so large that a save takes over a tenth of a second, ten times what the last save took, which
keeps the saving to a tenth of the time. The file holds passwords and tokens: it is replaced
atomically and readable only by its owner.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from tether.sandbox.state import SandboxState

# Bumped whenever `SandboxState.snapshot()` changes shape; another version is not read.
FORMAT = 1
SAVE_INTERVAL_SECONDS = 1.0
UNREADABLE_SUFFIX = ".unreadable"

log = logging.getLogger(__name__)


class UnreadableStateError(Exception):
    """The file is not a saved sandbox this version reads; `reason` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def load(path: Path, seed: int = 0) -> SandboxState:
    """The world saved at `path`, or a freshly seeded one when there is none or it is
    unreadable (then the file is moved aside, next to it, and a warning logged)."""
    try:
        return parse(path.read_bytes())
    except FileNotFoundError:
        return SandboxState.seeded(seed)
    except (OSError, UnreadableStateError) as error:
        reason = error.reason if isinstance(error, UnreadableStateError) else error.strerror
        _set_aside(path, reason or type(error).__name__)
        return SandboxState.seeded(seed)


def parse(content: bytes) -> SandboxState:
    """The world in a file's content; raises `UnreadableStateError`."""
    try:
        data = json.loads(content)
    except ValueError:
        raise UnreadableStateError("it is not JSON") from None
    version = data.get("format") if isinstance(data, dict) else None
    if version != FORMAT:
        raise UnreadableStateError(f"it is in format {version!r}, not {FORMAT}")
    try:
        return SandboxState.restored(data["state"])
    except Exception as error:  # whatever is malformed, the sandbox starts afresh
        # Only the kind of error: a message could quote a token or a password from the file.
        raise UnreadableStateError(f"its content is malformed ({type(error).__name__})") from None


def dump(state: SandboxState) -> bytes:
    """The file's content for this world."""
    return json.dumps({"format": FORMAT, "state": state.snapshot()}).encode()


def save(state: SandboxState, path: Path) -> None:
    """Write the world to `path` at once (a reader sees the old file or the new one)."""
    write_private(path, dump(state))


def write_private(path: Path, content: bytes) -> None:
    """Replace `path` atomically with a file only its owner can read, synced to disk."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    # The rename itself reaches the disk only once the folder is synced (a power cut, not a kill).
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _set_aside(path: Path, reason: str) -> None:
    aside = path.with_name(path.name + UNREADABLE_SUFFIX)
    try:
        os.replace(path, aside)
    except OSError as error:
        log.warning(
            "The sandbox's saved world in %s could not be read (%s) nor moved aside (%s); "
            "the sandbox starts from a freshly seeded world.",
            path,
            reason,
            error.strerror,
        )
        return
    log.warning(
        "The sandbox's saved world in %s could not be read (%s); it was moved to %s and the "
        "sandbox starts from a freshly seeded world.",
        path,
        reason,
        aside.name,
    )


class Keeper:
    """Keeps one world's file up to date while an app runs (see the module's docstring)."""

    def __init__(
        self, state: SandboxState, path: Path, interval: float = SAVE_INTERVAL_SECONDS
    ) -> None:
        self.state = state
        self.path = path
        self.interval = interval
        self._seen: int | None = None
        self._written: bytes | None = None
        self._failing = False

    @classmethod
    def opened(cls, path: Path, seed: int = 0) -> Keeper:
        """A keeper of the world saved at `path` (see `load`)."""
        return cls(load(path, seed), path)

    def save_if_changed(self) -> bool:
        """Write the world if it differs from what this keeper wrote last; whether it wrote."""
        revision = self.state.revision  # read first: a change made meanwhile moves it again
        if revision == self._seen:
            return False
        content = dump(self.state)
        wrote = content != self._written
        if wrote:
            write_private(self.path, content)
            self._written = content
        self._seen = revision
        return wrote

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Save every `interval` while the block runs, and once more when it ends."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        stop = asyncio.Event()
        task = asyncio.create_task(self._save_until(stop))
        try:
            yield
        finally:
            stop.set()
            await task
            # Unconditionally: another process on the same folder may have written since.
            self._seen = self._written = None
            await asyncio.to_thread(self._save_logged)

    async def _save_until(self, stop: asyncio.Event) -> None:
        pause = self.interval
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            if not stop.is_set():
                started = time.monotonic()
                await asyncio.to_thread(self._save_logged)
                pause = max(self.interval, 10 * (time.monotonic() - started))

    def _save_logged(self) -> None:
        """Save if changed; a failure is logged once (not every second) and retried."""
        try:
            self.save_if_changed()
        except Exception as error:
            if not self._failing:
                detail = error.strerror if isinstance(error, OSError) else type(error).__name__
                log.warning("Could not save the sandbox's world to %s: %s", self.path, detail)
            self._failing = True
            return
        if self._failing:
            log.info("Saved the sandbox's world to %s again.", self.path)
        self._failing = False
