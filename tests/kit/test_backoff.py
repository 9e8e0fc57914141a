"""The one back-off rule every retried kind of work uses."""

from datetime import timedelta

from tether.kit.backoff import Backoff

MINUTE = timedelta(minutes=1)


def test_the_wait_doubles_from_the_base_and_stops_at_the_cap() -> None:
    rule = Backoff(base=MINUTE, cap=10 * MINUTE)

    waits = [rule.after(n) for n in range(1, 7)]

    assert waits == [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE, 10 * MINUTE, 10 * MINUTE]
    assert rule.after(0) == MINUTE
    assert rule.after(10_000) == 10 * MINUTE


def test_jitter_spreads_waits_within_its_range_and_never_past_the_cap() -> None:
    rule = Backoff(base=MINUTE, cap=4 * MINUTE, jitter=(0.5, 1.5))

    second = [rule.after(2) for _ in range(500)]
    capped = [rule.after(50) for _ in range(500)]

    assert min(second) >= MINUTE
    assert max(second) <= 3 * MINUTE
    assert len(set(second)) > 400, "work that failed together comes back apart"
    assert min(capped) >= 2 * MINUTE
    assert max(capped) == 4 * MINUTE, "the cap holds even where the jitter would pass it"
