"""A stand-in worker for the crash test: refresh and check a few authorizations until killed.

`python -m tests.health.refresh_loop ID...`, with Tether's settings in `TETHER_*` variables.
It prints `ready` once it can work and starts at the first line on its standard input, so the
test can start it ahead of time and kill it at a moment of its choosing. Every authorization
is refreshed (forced) and then checked, which probes with the stored access token, as a worker
does after a refresh; each authorization loops on its own, so a kill lands at a different
point of each.
"""

import asyncio
import sys
import uuid

from tether.config import Settings
from tether.health import checks
from tether.health.refresh import refresh
from tether.runtime import Runtime, opened


async def _forever(runtime: Runtime, authorization_id: uuid.UUID) -> None:
    while True:
        await refresh(
            runtime.sessions, runtime.registry, runtime.settings, authorization_id, force=True
        )
        await checks.check(runtime.health, authorization_id)


async def main(ids: list[uuid.UUID]) -> None:
    async with opened(Settings()) as runtime:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await asyncio.to_thread(sys.stdin.readline)
        await asyncio.gather(*(_forever(runtime, i) for i in ids))


if __name__ == "__main__":
    asyncio.run(main([uuid.UUID(arg) for arg in sys.argv[1:]]))
