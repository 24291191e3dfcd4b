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
