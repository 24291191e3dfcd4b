"""Pure rules of rolling fixity: which resources go first, what fits the
byte budget, how long to pause for a rate, how far behind the window a
site is. No I/O here."""
from __future__ import annotations

import dataclasses
import datetime
import math
import re

from ..accounting.rules import human_bytes

DEPOT = "depot"
OBJECT = "object"
COPIES = (DEPOT, OBJECT)

# the result of reading one copy
OK = "ok"
MISMATCH = "mismatch"
MISSING = "missing"
REPAIRED = "repaired"  # was bad, replaced from its twin and verified
ABSENT = "absent"  # a copy the site does not keep (local copy removed
#                    after migration): neither good nor bad
GOOD = (OK, REPAIRED)

# actions of the audit trail (audit.rules.INTEGRITY_ERROR for a mark)
AUDIT_ACTOR = "cli:dcor-depot-fixity"
AUDIT_MISMATCH = "fixity.mismatch"  # a copy whose bytes differ or is gone
AUDIT_REPAIR = "fixity.repair"  # a copy replaced from its verified twin
AUDIT_CLEARED = "integrity.cleared"  # a marked resource has a good copy

# what the budget says about the next resource
TAKE = "take"
TOO_LARGE = "too large"  # larger than the whole budget: skipped
STOP = "stop"  # does not fit what is left: the run ends

NEVER = datetime.datetime(1970, 1, 1)  # sorts a never-read copy first

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$", re.I)
_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def parse_bytes(text: str) -> int:
    """Bytes from "500000", "200G", "1.5TiB" (powers of 1024 with "i",
    of 1000 without). ValueError names what is wrong."""
    match = _SIZE_RE.match(text or "")
    if not match:
        raise ValueError(f"not a byte count: {text!r} (e.g. 500G, 2TiB)")
    number, unit, binary = match.groups()
    base = 1024 if binary.lower().startswith("i") else 1000
    value = float(number) * base ** _UNITS[unit.lower()]
    if value < 1:
        raise ValueError(f"a byte count must be at least 1: {text!r}")
    return int(value)


def resource_cost(size: int | None, copies: int) -> int:
    """Bytes a resource's check reads: each copy once."""
    return max(size or 0, 0) * copies


class Budget:
    """The bytes a run may read (None: no limit), resource by resource in
    the order given. A resource larger than the whole budget is skipped
    (it would stop every run); one that does not fit what is left ends
    the run, so that no younger copy overtakes an older one."""

    def __init__(self, max_bytes: int | None) -> None:
        self.max_bytes = max_bytes
        self.spent = 0

    def decide(self, cost: int) -> str:
        if self.max_bytes is None:
            return TAKE
        if cost > self.max_bytes:
            return TOO_LARGE
        if self.spent + cost > self.max_bytes:
            return STOP
        return TAKE

    def spend(self, cost: int) -> None:
        self.spent += cost


def pause_for(bytes_done: int, elapsed: float,
              max_rate: float | None) -> float:
    """Seconds to wait so that `bytes_done` in `elapsed` seconds stays
    within `max_rate` bytes per second (None: no limit)."""
    if not max_rate:
        return 0.0
    return max(0.0, bytes_done / max_rate - elapsed)


def due_at(checked: list[datetime.datetime | None]) -> datetime.datetime:
    """When a resource is due: when its least recently read copy was read
    (NEVER if some copy was never read)."""
    return min((when or NEVER for when in checked), default=NEVER)


def integrity_after(results: dict[str, str]) -> bool:
    """True: at least one copy is good after the run (a failed mark is to
    be cleared); False: no copy is good (mark it)."""
    return any(result in GOOD for result in results.values())


def repair_source(results: dict[str, str]) -> tuple[str, str] | None:
    """(bad copy, good twin) to repair from, or None. Only a copy read and
    found good in this run is a source."""
    depot, obj = results.get(DEPOT), results.get(OBJECT)
    if depot == OK and obj in (MISMATCH, MISSING):
        return OBJECT, DEPOT
    if obj == OK and depot in (MISMATCH, MISSING):
        return DEPOT, OBJECT
    return None


@dataclasses.dataclass(frozen=True)
class Backlog:
    """Copies of stored resources and how many of them (and their bytes)
    were not verified within the window."""
    copies: int
    total_bytes: int
    overdue: int
    overdue_bytes: int
    oldest_verified: datetime.datetime | None  # None: some never verified


def nightly_bytes(total_bytes: int, window_days: int) -> int:
    """The budget a nightly run needs to read every copy once within the
    window."""
    return math.ceil(total_bytes / max(window_days, 1))


def backlog_line(backlog: Backlog, window_days: int,
                 now: datetime.datetime) -> str:
    """How far behind the window the site is, in one line."""
    need = nightly_bytes(backlog.total_bytes, window_days)
    if not backlog.overdue:
        return (f"within the window: every one of {backlog.copies} copies "
                f"was verified in the last {window_days} days "
                f"(a nightly budget of {human_bytes(need)} keeps it so)")
    if backlog.oldest_verified is None:
        oldest = "some were never verified"
    else:
        days = (now - backlog.oldest_verified).days
        oldest = f"the oldest was verified {days} days ago, " \
                 f"{days - window_days} days behind"
    return (f"behind the window of {window_days} days: {backlog.overdue} of "
            f"{backlog.copies} copies ({human_bytes(backlog.overdue_bytes)}) "
            f"are not verified within it; {oldest}; a nightly budget of "
            f"{human_bytes(need)} covers every copy within the window")



def refusal(resource_id: str) -> str:
    """The one line a download or archive of a marked resource gets."""
    return (f"resource {resource_id} has no copy that matches its sha256 "
            f"(integrity: failed); it cannot be downloaded until an "
            f"operator restores it")
