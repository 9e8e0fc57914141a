"""Day arithmetic the sync and its coverage share: windows, runs of days, provider-sized calls."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tether.providers.daily import windows

# The longest range one provider call may ask for (the sandbox's limit; real APIs are similar).
MAX_CALL_DAYS = 366


@dataclass(frozen=True, slots=True)
class DayRange:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def each(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]

    def overlaps(self, start: date, end: date) -> bool:
        return self.start <= end and start <= self.end


def today(now: datetime) -> date:
    """Providers report by UTC day."""
    return now.date()


def history_window(now: datetime, history_days: int) -> DayRange:
    """The days kept loaded: the last `history_days` days, today included."""
    last = today(now)
    return DayRange(last - timedelta(days=max(1, history_days) - 1), last)


def runs(days: Iterable[date]) -> list[DayRange]:
    """Consecutive days grouped into ranges, oldest first."""
    found: list[DayRange] = []
    for day in sorted(set(days)):
        if found and found[-1].end + timedelta(days=1) == day:
            found[-1] = DayRange(found[-1].start, day)
        else:
            found.append(DayRange(day, day))
    return found


def calls(ranges: Iterable[DayRange], size: int = MAX_CALL_DAYS) -> list[DayRange]:
    """Ranges cut into pieces one provider call can ask for, oldest first."""
    return [
        DayRange(first, last)
        for r in sorted(ranges, key=lambda r: r.start)
        for first, last in windows(r.start, r.end, size)
    ]
