"""Pure rules of storage accounting: which keys count and as what, how a
listing differs from the records, and how figures read. No I/O here."""
from __future__ import annotations

import dataclasses
from typing import Iterable, Iterator

from .. import naming

STAGING = "staging"
# what a circle's bytes are split by: the resource's own file, the files
# derived from it, and client uploads not yet accepted
ARTIFACTS = (*naming.ARTIFACTS, STAGING)
LARGEST_DATASETS = 10


def classify_key(key: str) -> tuple[str, str] | None:
    """(artifact, resource id) of an object key of ours, None for any
    other key (such keys are not the extension's and are not counted)."""
    parsed = naming.parse_object_key(key)
    if parsed:
        return parsed
    parts = key.split("/")
    if len(parts) == 4 and parts[0] == STAGING:
        rid = "".join(parts[1:])
        try:
            if naming.staging_key(rid) == key:
                return STAGING, rid
        except ValueError:
            return None
    return None


@dataclasses.dataclass(frozen=True)
class Difference:
    """One object whose record is missing, stale or left over."""
    key: str
    listed_size: int | None  # None: not in the bucket
    recorded_size: int | None  # None: no record

    @property
    def drift_bytes(self) -> int:
        return (self.listed_size or 0) - (self.recorded_size or 0)


def differences(listed: Iterable[tuple[str, int]],
                recorded: Iterable[tuple[str, int]]) -> Iterator[Difference]:
    """Merge two streams of (key, size), each sorted by key in byte order
    (the order of an S3 listing and of `COLLATE "C"`), and yield where they
    differ. Holds one item of each stream at a time."""
    listed_it, recorded_it = iter(listed), iter(recorded)
    end = object()
    a = next(listed_it, end)
    b = next(recorded_it, end)
    while a is not end or b is not end:
        if b is end or (a is not end and a[0].encode() < b[0].encode()):
            yield Difference(a[0], a[1], None)
            a = next(listed_it, end)
        elif a is end or b[0].encode() < a[0].encode():
            yield Difference(b[0], None, b[1])
            b = next(recorded_it, end)
        else:
            if a[1] != b[1]:
                yield Difference(a[0], a[1], b[1])
            a = next(listed_it, end)
            b = next(recorded_it, end)


_UNITS = ("bytes", "kB", "MB", "GB", "TB", "PB", "EB")


def human_bytes(size: int) -> str:
    """Decimal units with one digit, as operators read quotas (1.0 TB)."""
    if abs(size) < 1000:
        return f"{size} bytes"
    value, unit = float(size), 0
    while abs(value) >= 1000 and unit < len(_UNITS) - 1:
        value /= 1000
        unit += 1
    return f"{value:.1f} {_UNITS[unit]}"


def signed_bytes(size: int) -> str:
    return ("+" if size > 0 else "-" if size < 0 else "") + \
        human_bytes(abs(size))


def figures(used: dict[str, tuple[int, int]], quota_bytes: int,
            reserved: tuple[int, int], datasets: int, resources: int,
            largest: list[dict], as_of: str,
            reconciled_at: str | None) -> dict:
    """The figures of one circle as the actions return them. `used` maps
    an artifact to (bytes, files); `reserved` is (bytes, uploads)."""
    by_artifact = {artifact: {"bytes": used.get(artifact, (0, 0))[0],
                              "files": used.get(artifact, (0, 0))[1]}
                   for artifact in ARTIFACTS}
    return {
        "used_bytes": sum(entry["bytes"] for entry in by_artifact.values()),
        "quota_bytes": quota_bytes,
        "reserved_bytes": reserved[0],
        "reserved_uploads": reserved[1],
        "by_artifact": by_artifact,
        "datasets": datasets,
        "resources": resources,
        "largest_datasets": largest,
        "as_of": as_of,
        "reconciled_at": reconciled_at,
    }


def site_totals(circles: Iterable[dict]) -> dict:
    """Sums over the circles' figures."""
    totals = {"used_bytes": 0, "reserved_bytes": 0, "datasets": 0,
              "resources": 0,
              "by_artifact": {a: {"bytes": 0, "files": 0} for a in ARTIFACTS}}
    for circle in circles:
        for field in ("used_bytes", "reserved_bytes", "datasets",
                      "resources"):
            totals[field] += circle[field]
        for artifact, entry in circle["by_artifact"].items():
            totals["by_artifact"][artifact]["bytes"] += entry["bytes"]
            totals["by_artifact"][artifact]["files"] += entry["files"]
    return totals


def refusal(circle_name: str, held: int, quota: int, size: int) -> str:
    """The one line that refuses bytes a circle has no room for."""
    return (f"not accepted: circle {circle_name} holds {human_bytes(held)} "
            f"of its {human_bytes(quota)} quota, and this file has "
            f"{human_bytes(size)}")


def quota_unavailable(circle_name: str, reason: Exception) -> str:
    """The one line when the quota cannot be decided now (503)."""
    detail = str(reason).splitlines()[0] if str(reason) else \
        type(reason).__name__
    return (f"not accepted now: the quota of circle {circle_name} cannot be "
            f"checked ({detail}); try again later")


def over_quota(circle_name: str, held: int, quota: int) -> str:
    """The line that reports a circle beyond its quota (migrations are
    never refused, but the operator learns of it)."""
    return (f"circle {circle_name} holds {human_bytes(held)} of its "
            f"{human_bytes(quota)} quota ({human_bytes(held - quota)} over)")


# shares of the quota at which the circle page warns (80 %, then 95 %)
WARN_SHARES = (0.80, 0.95)


def quota_panel(figures: dict) -> dict:
    """What the circle page's storage panel shows, from the figures of
    `figures()`: held bytes (stored and reserved) against the quota, its
    percentage, the warning level (None, "warning" at 80 %, "danger" at
    95 %), and the split by artifact with each part's share."""
    held = figures["used_bytes"] + figures["reserved_bytes"]
    quota = figures["quota_bytes"]
    share = held / quota if quota else None
    level = None
    if share is not None and share >= WARN_SHARES[1]:
        level = "danger"
    elif share is not None and share >= WARN_SHARES[0]:
        level = "warning"
    parts = []
    for artifact in ARTIFACTS:
        entry = figures["by_artifact"][artifact]
        parts.append({"artifact": artifact, "bytes": entry["bytes"],
                      "files": entry["files"],
                      "text": human_bytes(entry["bytes"]),
                      "percent": 100 * entry["bytes"] / quota if quota
                      else None})
    return {
        "held_bytes": held, "held_text": human_bytes(held),
        "used_text": human_bytes(figures["used_bytes"]),
        "reserved_text": human_bytes(figures["reserved_bytes"]),
        "quota_bytes": quota, "quota_text": human_bytes(quota) if quota
        else None,
        # the bar's width is capped; the number is not
        "percent": None if share is None else round(100 * share, 1),
        "bar_percent": None if share is None else min(100.0,
                                                       100 * share),
        "level": level,
        "by_artifact": parts,
        "largest": [{**dataset, "text": human_bytes(dataset["bytes"])}
                    for dataset in figures["largest_datasets"]],
        "datasets": figures["datasets"], "resources": figures["resources"],
        "as_of": figures["as_of"],
    }
