"""The due-work queue's shared rules: batches, claim bounds, retries and abandoning."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

from tether.config import Settings
from tether.kit.backoff import Backoff
from tether.worker import queue
from tether.worker.queue import Retries

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_due_ids_go_out_in_jobs_of_the_batch_size_and_an_empty_hand_out_sends_nothing() -> None:
    ids = [uuid.uuid4() for _ in range(120)]

    jobs = queue.jobs("health.check_authorizations", ids)

    assert [job.size for job in jobs] == [50, 50, 20]
    assert [i for job in jobs for i in cast(list[str], job.args[0])] == [str(i) for i in ids]
    assert {job.actor for job in jobs} == {"health.check_authorizations"}
    assert queue.jobs("health.check_authorizations", []) == []


def test_a_claim_reaches_past_a_fresh_hand_out_and_holds_past_any_second_claim() -> None:
    settings = Settings(dispatch_timeout_seconds=300)

    held = queue.holds(NOW, settings)
    handed_out_until = queue.dispatch_until(NOW, settings)

    assert handed_out_until < held.claimable_until < held.until


def test_retries_back_off_then_abandon_after_the_last_attempt() -> None:
    rule = Retries(Backoff(MINUTE, 10 * MINUTE), max_attempts=4)

    tries = [rule.next_try(n, NOW) for n in range(1, 5)]

    assert tries[:3] == [NOW + MINUTE, NOW + 2 * MINUTE, NOW + 4 * MINUTE]
    assert tries[3] is None


def test_retry_after_is_honoured_within_the_cap() -> None:
    rule = Retries(Backoff(MINUTE, 10 * MINUTE))

    assert rule.next_try(1, NOW, retry_after=240) == NOW + 4 * MINUTE
    assert rule.next_try(1, NOW, retry_after=99_999) == NOW + 10 * MINUTE


def test_a_deadline_puts_the_last_try_at_the_deadline_and_abandons_after_it() -> None:
    rule = Retries(Backoff(MINUTE, 60 * MINUTE), give_up_after=timedelta(days=1))
    made = NOW - timedelta(hours=23, minutes=50)

    last = rule.next_try(12, NOW, since=made)
    after = rule.next_try(13, made + timedelta(days=1), since=made)

    assert last == made + timedelta(days=1)  # not an hour later: the deadline itself
    assert after is None
    assert rule.next_try(1, NOW, since=NOW) == NOW + MINUTE
