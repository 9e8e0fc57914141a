"""The due-work queue: what every kind of background work shares, given once.

Health checks, syncs, asked-for syncs, notification emails, invitation emails and webhook
deliveries are rows with a due time. Each is a client of this module and gives only what is its
own: which rows are due (`DueWork.due`), how to move them out of sight (`DueWork.postpone`),
which actor works them, and how it retries (`Retries`). This module owns the rest:

- **Hand-out.** At every pass the scheduler asks each source for what is due, in its own
  transaction. The rows are postponed by `TETHER_DISPATCH_TIMEOUT_SECONDS` (a lost job makes
  them due again after that) and split into jobs of `batch` ids, sent after the commit.
- **Claiming.** A worker claims rows before working on them (`holds`): a row is claimable while
  due within two dispatch timeouts, and a claim holds it for three, so of any number of workers
  running one job, one gets each row, and none gets it again while that one works.
- **Retries.** A failed try is retried after an exponential back-off with jitter (`Backoff`), or
  after what the other side asked for (`Retry-After`, within the back-off's cap), and abandoned
  after a number of tries or once a deadline has passed.
- **Transactions.** Each unit of work (one row, or one email of several rows) is recorded in a
  transaction of its own, opened with `sessions.begin()`, which commits it when the block ends
  and rolls it back if it raises: no service calls `commit`.
"""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tether.config import Settings
from tether.kit.backoff import Backoff
from tether.worker.job import Job

BATCH = 50

# The ids due now, oldest first, at most `limit`.
Due = Callable[[AsyncSession, datetime, int], Awaitable[Sequence[uuid.UUID]]]
# Move these rows' due time to `until`, if still due at `now`; the ones moved (None: all).
Postpone = Callable[
    [AsyncSession, Sequence[uuid.UUID], datetime, datetime], Awaitable[set[uuid.UUID] | None]
]


def jobs(actor: str, ids: Sequence[uuid.UUID], batch: int = BATCH) -> list[Job]:
    """One job per `batch` ids, each carrying them as text."""
    return [
        Job(actor, ([str(i) for i in ids[start : start + batch]],), len(ids[start : start + batch]))
        for start in range(0, len(ids), batch)
    ]


def dispatch_until(now: datetime, settings: Settings) -> datetime:
    """How long handed-out rows stay out of the scheduler's sight: a lost job's rows are due
    again after this."""
    return now + timedelta(seconds=settings.dispatch_timeout_seconds)


async def hand_out(
    session: AsyncSession,
    ids: Sequence[uuid.UUID],
    postpone: Postpone,
    now: datetime,
    settings: Settings,
) -> list[uuid.UUID]:
    """Postpone these due rows in the scheduler's transaction; the ones handed out, in order."""
    if not ids:
        return []
    moved = await postpone(session, ids, now, dispatch_until(now, settings))
    return [i for i in ids if moved is None or i in moved]


@dataclass(frozen=True, slots=True)
class DueWork:
    """A kind of due work: where its due rows are, and which actor works them."""

    actor: str
    due: Due
    postpone: Postpone
    batch: int = BATCH

    async def take_due(self, session: AsyncSession, now: datetime, settings: Settings) -> list[Job]:
        """What is due now, handed out in this transaction, as jobs to send once it commits."""
        ids = await self.due(session, now, settings.scheduler_batch)
        return jobs(
            self.actor, await hand_out(session, ids, self.postpone, now, settings), self.batch
        )


@dataclass(frozen=True, slots=True)
class Holds:
    """A claim's bounds: claimable while due by `claimable_until`, then held until `until`."""

    claimable_until: datetime
    until: datetime


def holds(now: datetime, settings: Settings) -> Holds:
    """Claimable up to one dispatch timeout beyond a fresh hand-out (clocks differ), and held
    for one more: a second worker running the same job meanwhile finds nothing to do."""
    hold = timedelta(seconds=settings.dispatch_timeout_seconds)
    return Holds(claimable_until=now + 2 * hold, until=now + 3 * hold)


@dataclass(frozen=True, slots=True)
class Retries:
    """When a failed try comes again, or that it does not.

    `max_attempts` abandons the try that fails with that many behind it; `give_up_after`
    abandons a failure once that long has passed since the work was made, and puts the last try
    at that deadline itself, so a day of failures is a full day."""

    backoff: Backoff
    max_attempts: int | None = None
    give_up_after: timedelta | None = None

    def next_try(
        self,
        attempts: int,
        now: datetime,
        *,
        since: datetime | None = None,
        retry_after: float | None = None,
    ) -> datetime | None:
        """After the `attempts`-th failed try: when to try again, or None to abandon."""
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return None
        deadline = since + self.give_up_after if since and self.give_up_after else None
        if deadline is not None and now >= deadline:
            return None
        if retry_after is not None:
            delay = min(timedelta(seconds=max(retry_after, 0.0)), self.backoff.cap)
        else:
            delay = self.backoff.after(attempts)
        at = now + delay
        return min(at, deadline) if deadline is not None else at
