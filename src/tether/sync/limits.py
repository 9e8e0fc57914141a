"""How many provider calls the sync has in flight at once, per authorization and per provider.

Within one process, calls wait for a slot (asyncio semaphores). With a Redis broker the budget
is also shared by every worker: a call takes a slot of both budgets on Redis (keys under the
broker's namespace) without waiting; when either is full the caller reschedules the connection
a few seconds ahead instead of blocking a worker.

The Redis keys are the counters of Dramatiq's `ConcurrentRateLimiter` (an integer with a TTL),
so a worker of an earlier release shares the same budget. They are taken and given back by two
small Lua scripts, both budgets in one round trip on the event loop, rather than by Dramatiq's
limiter: its optimistic WATCH/MULTI took about seven round trips per budget and call from a
thread, retried whenever another worker touched the provider's key meanwhile, and was most of
the sync's Redis cost.
"""

import asyncio
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from tether.config import Settings

# A connection that found no free slot is due again after this long.
BUSY_RETRY_SECONDS = 5
# A slot a crashed worker never gave back is forgotten once its key is left alone this long.
_SLOT_TTL_MS = 10 * 60 * 1000

# KEYS: the budgets' counters; ARGV: the TTL, then each budget's limit. All slots or none.
_TAKE = """
local held = {}
for i, key in ipairs(KEYS) do
  held[i] = tonumber(redis.call('GET', key) or '0')
  if held[i] + 1 > tonumber(ARGV[i + 1]) then return 0 end
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, held[i] + 1, 'PX', ARGV[1])
end
return 1
"""
# A counter never goes below zero (a key that expired meanwhile stays gone).
_GIVE_BACK = """
for _, key in ipairs(KEYS) do
  local held = tonumber(redis.call('GET', key) or '0')
  if held > 0 then redis.call('SET', key, held - 1, 'PX', ARGV[1]) end
end
return 1
"""


def is_redis(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("redis://", "rediss://", "unix://"))


class Limits:
    """The concurrency budget of one process (and, with Redis, of every worker). Belongs to
    one event loop: its semaphores and Redis connections do."""

    def __init__(self, settings: Settings) -> None:
        self.authorization_limit = max(1, settings.sync_authorization_concurrency)
        self.provider_limit = max(1, settings.sync_provider_concurrency)
        self.namespace = settings.broker_namespace
        self._local: dict[str, asyncio.Semaphore] = {}
        self._redis: Redis | None = None
        self._take: AsyncScript | None = None
        self._give_back: AsyncScript | None = None
        if settings.broker_url is not None and is_redis(settings.broker_url):
            self._redis = Redis.from_url(settings.broker_url)
            self._take = self._redis.register_script(_TAKE)
            self._give_back = self._redis.register_script(_GIVE_BACK)

    @property
    def shared(self) -> bool:
        return self._redis is not None

    def _semaphore(self, key: str, limit: int) -> asyncio.Semaphore:
        found = self._local.get(key)
        if found is None:
            found = self._local[key] = asyncio.Semaphore(limit)
        return found

    @asynccontextmanager
    async def slot(self, provider: str, authorization_id: uuid.UUID) -> AsyncIterator[bool]:
        """Hold a slot for one provider call; yields False (at once) when every worker's
        budget is taken, True otherwise."""
        authorization = f"sync:authorization:{authorization_id}"
        provider_key = f"sync:provider:{provider}"
        async with (
            self._semaphore(authorization, self.authorization_limit),
            self._semaphore(provider_key, self.provider_limit),
        ):
            if self._take is None or self._give_back is None:
                yield True
                return
            keys = [f"{self.namespace}:{authorization}", f"{self.namespace}:{provider_key}"]
            limits = [_SLOT_TTL_MS, self.authorization_limit, self.provider_limit]
            held = bool(await self._take(keys=keys, args=limits))
            try:
                yield held
            finally:
                if held:
                    # Given back even when the call was cancelled: a slot kept would block
                    # every worker's calls for this authorization until its TTL ran out.
                    await asyncio.shield(self._give_back(keys=keys, args=[_SLOT_TTL_MS]))

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


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
