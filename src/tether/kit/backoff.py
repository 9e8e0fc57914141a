"""Exponential back-off with jitter: how long to wait before trying again after failures.

One rule for every kind of retried work (checks, syncs, emails, webhooks), each with its own
base, cap and jitter: the wait doubles from `base` with each failure, stays under `cap`, and is
spread by a random factor so that work that failed together does not come back together.
"""

import random
from dataclasses import dataclass
from datetime import timedelta

# Past this many doublings every base has long reached any cap; it keeps the power finite.
_MOST_DOUBLINGS = 30


@dataclass(frozen=True, slots=True)
class Backoff:
    base: timedelta
    cap: timedelta
    # The wait is multiplied by a factor drawn uniformly from this range.
    jitter: tuple[float, float] = (1.0, 1.0)

    def after(self, failures: int) -> timedelta:
        """The wait after the n-th failure in a row (the first waits about `base`)."""
        step = min(self.cap, self.base * (1 << min(max(0, failures - 1), _MOST_DOUBLINGS)))
        return min(self.cap, step * random.uniform(*self.jitter))
