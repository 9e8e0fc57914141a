"""How many provider calls the sync has in flight at once, per authorization and per provider.

Within one process, calls wait for a slot (asyncio semaphores). With a Redis broker the budget
is also shared by every worker: each call takes a slot of Dramatiq's `ConcurrentRateLimiter`s
on Redis (keys under the broker's namespace) without waiting; when none is free the caller
reschedules the connection a few seconds ahead instead of blocking a worker.
"""

import asyncio
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from typing import Any

from dramatiq.rate_limits import ConcurrentRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from tether.config import Settings

# A connection that found no free slot is due again after this long.
BUSY_RETRY_SECONDS = 5
# A slot a crashed worker never gave back is forgotten once its key is left alone this long.
_SLOT_TTL_MS = 10 * 60 * 1000


def is_redis(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("redis://", "rediss://", "unix://"))


class Limits:
    """The concurrency budget of one process (and, with Redis, of every worker)."""

    def __init__(self, settings: Settings) -> None:
        self.authorization_limit = max(1, settings.sync_authorization_concurrency)
        self.provider_limit = max(1, settings.sync_provider_concurrency)
        self.namespace = settings.broker_namespace
        self._local: dict[str, asyncio.Semaphore] = {}
        self._backend: Any = None
        if is_redis(settings.broker_url):
            self._backend = RedisBackend(url=settings.broker_url)

    @property
    def shared(self) -> bool:
        return self._backend is not None

    def _semaphore(self, key: str, limit: int) -> asyncio.Semaphore:
        found = self._local.get(key)
        if found is None:
            found = self._local[key] = asyncio.Semaphore(limit)
        return found

    @asynccontextmanager
    async def slot(self, provider: str, authorization_id: uuid.UUID) -> AsyncIterator[bool]:
        """Hold a slot for one provider call; yields False (at once) when every worker's
        budget is taken, True otherwise."""
        keys = (
            (f"sync:authorization:{authorization_id}", self.authorization_limit),
            (f"sync:provider:{provider}", self.provider_limit),
        )
        async with (
            self._semaphore(*keys[0]),
            self._semaphore(*keys[1]),
        ):
            if self._backend is None:
                yield True
                return
            limiters = [
                ConcurrentRateLimiter(  # type: ignore[no-untyped-call]
                    self._backend, f"{self.namespace}:{key}", limit=limit, ttl=_SLOT_TTL_MS
                )
                for key, limit in keys
            ]
            held = await asyncio.to_thread(_take_all, limiters)
            try:
                yield held is not None
            finally:
                if held is not None:
                    await asyncio.to_thread(held.close)


def _take_all(limiters: list[Any]) -> ExitStack | None:
    """Every limiter's slot, or none of them (those taken are given back)."""
    stack = ExitStack()
    try:
        for limiter in limiters:
            if not stack.enter_context(limiter.acquire(raise_on_failure=False)):
                stack.close()
                return None
    except BaseException:
        stack.close()
        raise
    return stack


_per_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Limits]]"
_per_loop = weakref.WeakKeyDictionary()


def for_settings(settings: Settings) -> Limits:
    """This process's limits for these settings (semaphores belong to one event loop)."""
    loop = asyncio.get_running_loop()
    key = (
        settings.broker_url,
        settings.broker_namespace,
        settings.sync_authorization_concurrency,
        settings.sync_provider_concurrency,
    )
    mine = _per_loop.setdefault(loop, {})
    found = mine.get(key)
    if found is None:
        found = mine[key] = Limits(settings)
    return found
