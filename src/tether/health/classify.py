"""From a provider's answer to Tether's verdict: fine, lapsed (a person must act) or transient."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tether.config import Settings
from tether.kit.backoff import Backoff
from tether.providers.base import ProviderCallError, Reason


class Verdict(StrEnum):
    OK = "ok"
    LAPSE = "lapse"
    TRANSIENT = "transient"


# Only these mean the grant itself is dead or cut down. Anything else, even an error Tether
# does not recognise, is retried: Tether never cries wolf on a guess.
LAPSE_REASONS = frozenset(
    {
        Reason.TOKEN_EXPIRED,
        Reason.TOKEN_REVOKED,
        Reason.PASSWORD_CHANGED,
        Reason.ACCESS_REMOVED,
        Reason.SCOPE_MISSING,
        Reason.INVALID_API_KEY,
        Reason.INVALID_GRANT,
        Reason.ACCESS_DENIED,
    }
)


@dataclass(frozen=True, slots=True)
class Observation:
    verdict: Verdict
    reason: str | None = None
    message: str | None = None
    retry_after: float | None = None


OK = Observation(Verdict.OK)


def observe(error: ProviderCallError) -> Observation:
    """The verdict on a failed call; the provider's own message is kept."""
    verdict = Verdict.LAPSE if error.reason in LAPSE_REASONS else Verdict.TRANSIENT
    return Observation(verdict, error.reason.value, error.message, error.retry_after)


def backoff(failures: int, settings: Settings, retry_after: float | None = None) -> timedelta:
    """Exponential back-off with jitter (50-100% of the step), never sooner than Retry-After."""
    delay = Backoff(
        base=timedelta(seconds=settings.backoff_base_seconds),
        cap=timedelta(seconds=settings.backoff_max_seconds),
        jitter=(0.5, 1.0),
    ).after(failures)
    return max(delay, timedelta(seconds=retry_after or 0.0))


def next_check(now: datetime, settings: Settings) -> datetime:
    """The next regular check, spread ±10% so checks never bunch at the top of the hour."""
    return now + timedelta(seconds=settings.check_interval_seconds * random.uniform(0.9, 1.1))


def first_check(now: datetime, settings: Settings) -> datetime:
    """A new authorization's first check: somewhere in the next interval."""
    return now + timedelta(seconds=settings.check_interval_seconds * random.uniform(0.0, 1.0))
