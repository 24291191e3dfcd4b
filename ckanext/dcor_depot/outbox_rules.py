"""Pure rules of the job outbox (job_queue.py): when a job that failed or
could not be queued is tried again, and when it is left to an operator."""
from __future__ import annotations

import datetime

# A row is queued by the request that wrote it, right after its commit;
# the sweep leaves it alone this long so that the two never race.
FIRST_SWEEP_DELAY = datetime.timedelta(seconds=30)


def parse_intervals(text: str) -> list[int]:
    """`ckanext.dcor_depot.job_retry_intervals`: seconds between the starts
    of a job, e.g. "60 300 900 1800". Raises ValueError naming the bad
    value."""
    values = []
    for word in text.replace(",", " ").split():
        try:
            value = int(word)
        except ValueError:
            raise ValueError(f"{word!r} is not a whole number of seconds")
        if value < 1:
            raise ValueError(f"{value} is not a positive number of seconds")
        values.append(value)
    if not values:
        raise ValueError("at least one interval is needed")
    return values


def max_starts(intervals: list[int]) -> int:
    """The first start plus one retry per interval."""
    return len(intervals) + 1


def retry_delay(starts: int, intervals: list[int]) -> datetime.timedelta:
    """How long after its `starts`-th start (1 = the first) a job that did
    not finish is queued again. After the last start it is not (a day is
    given, but the sweep stops at `max_starts`)."""
    if starts < 1:
        raise ValueError(f"starts must be at least 1, got {starts}")
    if starts > len(intervals):
        return datetime.timedelta(days=1)
    return datetime.timedelta(seconds=intervals[starts - 1])


def total_backoff(intervals: list[int]) -> int:
    """Seconds from the first failure to the last start."""
    return sum(intervals)
