"""How many provider calls the sync has in flight at once, per authorization and per provider.

Within one process, calls wait for a slot (asyncio semaphores). With a Redis broker the budget
is also shared by every worker: a call takes a slot of both budgets on Redis (keys under the
broker's namespace) without waiting; when either is full the caller reschedules the connection
a few seconds ahead instead of blocking a worker.

On Redis each budget is a sorted set (`<namespace>:sync:authorization:<id>:slots` and
`<namespace>:sync:provider:<key>:slots`) whose members are the slots taken, one random id
each, scored by the time the slot ends: the provider call's time-out
(`TETHER_PROVIDER_TIMEOUT_SECONDS`) and a few seconds more, on Redis's own clock so that the
workers' clocks do not matter. Taking drops the slots that have ended, counts the rest against
the limit and adds the new one, for both budgets in one Lua script (one round trip; all slots or
none); giving back removes the member. A worker killed while it holds a slot therefore frees it
within the call's time-out, however busy the budget is: the integer counters with a TTL of
earlier releases (Dramatiq's `ConcurrentRateLimiter` format) were kept alive by every other
worker's calls, so a busy provider's budget leaked towards zero. The keys are new (`:slots`),
so an earlier release's counters are never read as sets (Redis's WRONGTYPE); while both
releases run, each keeps to its own budgets, and the old counters expire once unused.

Should a call outlive its slot? The time-out of httpx bounds each step of one request (connect,
each read), not a whole `fetch_daily`, which may follow many pages. So while a call is in
flight, its worker extends its slots every third of their life: a slow call keeps its slot
rather than letting another worker exceed the budget, and the slot of a worker that is gone
stops being extended and ends within one life.
"""

import asyncio
import logging
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from tether.config import Settings

log = logging.getLogger(__name__)

# A connection that found no free slot is due again after this long.
BUSY_RETRY_SECONDS = 5
# A slot outlives the provider call's time-out by this much, so that a call that ran out its
# time still gives its slot back itself.
SLOT_MARGIN_SECONDS = 2.0
# Each budget's key outlives its last slot by this much: a budget left alone is deleted.
_KEY_MARGIN_MS = 1000

# Redis's clock, in milliseconds (as a string: Lua would print a large number as 1.7e+12).
_NOW = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local life = tonumber(ARGV[2])
local ends = string.format('%d', now + life)
local key_ttl = life + tonumber(ARGV[3])
"""
# KEYS: the budgets; ARGV: the slot's id, its life (ms), the keys' margin (ms), then each
# budget's limit. All slots or none.
_TAKE = (
    _NOW
    + """
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[i + 3]) then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ends, ARGV[1])
  redis.call('PEXPIRE', key, key_ttl)
end
return 1
"""
)
# Same arguments, without the limits. Only a slot still there is extended: one that ended and
# was dropped may already be another worker's.
_KEEP = (
    _NOW
    + """
for _, key in ipairs(KEYS) do
  if redis.call('ZSCORE', key, ARGV[1]) then
    redis.call('ZADD', key, ends, ARGV[1])
    redis.call('PEXPIRE', key, key_ttl)
  end
end
return 1
"""
)
# KEYS: the budgets; ARGV: the slot's id.
_GIVE_BACK = """
for _, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[1]) end
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
        # How long a slot on Redis lasts unless its holder, still alive, extends it.
        self.slot_life_ms = round((settings.provider_timeout_seconds + SLOT_MARGIN_SECONDS) * 1000)
        self._local: dict[str, asyncio.Semaphore] = {}
        self._redis: Redis | None = None
        self._take: AsyncScript | None = None
        self._keep: AsyncScript | None = None
        self._give_back: AsyncScript | None = None
        if settings.broker_url is not None and is_redis(settings.broker_url):
            self._redis = Redis.from_url(settings.broker_url)
            self._take = self._redis.register_script(_TAKE)
            self._keep = self._redis.register_script(_KEEP)
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
            if self._redis is None:
                yield True
                return
            keys = [f"{self.namespace}:{k}:slots" for k in (authorization, provider_key)]
            async with self._shared_slot(keys) as held:
                yield held

    @asynccontextmanager
    async def _shared_slot(self, keys: list[str]) -> AsyncIterator[bool]:
        assert self._take is not None
        assert self._give_back is not None
        member = uuid.uuid4().hex
        life: list[str | int] = [member, self.slot_life_ms, _KEY_MARGIN_MS]
        if not await self._take(
            keys=keys, args=[*life, self.authorization_limit, self.provider_limit]
        ):
            yield False
            return
        keeping = asyncio.create_task(self._keep_on(keys, life))
        try:
            yield True
        finally:
            keeping.cancel()
            # Given back even when the call was cancelled: a slot kept would block every
            # worker's calls for this authorization until it ended.
            await asyncio.shield(self._give_back(keys=keys, args=[member]))

    async def _keep_on(self, keys: list[str], life: list[str | int]) -> None:
        """Extend the slot while its call runs (see the module's docstring)."""
        assert self._keep is not None
        while True:
            await asyncio.sleep(self.slot_life_ms / 3000)
            try:
                await self._keep(keys=keys, args=life)
            except RedisError:
                # The slot may end meanwhile: the budget is then exceeded for a moment, which
                # is better than failing a call that is going well.
                log.warning("Could not extend a sync slot on Redis", exc_info=True)

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
        settings.provider_timeout_seconds,
    )
    mine = _per_loop.setdefault(loop, {})
    found = mine.get(key)
    if found is None:
        found = mine[key] = Limits(settings)
    return found
