"""Pure rules of the metrics: names, buckets, how labels are stored in a
Redis hash field, cumulative histogram buckets, and who may scrape."""
from __future__ import annotations

import bisect
import hmac
import json
from typing import Iterable, Mapping

PREFIX = "dcor_depot_"

# counters: name -> (help, label names)
COUNTERS = {
    "downloads": ("Resource downloads answered, by download provider",
                  ("provider",)),
    "archive_bytes": ("Bytes of zip/tar archives streamed to clients", ()),
    "integrity_errors": ("Bytes that did not match their sha256, CRC-32 or "
                         "size while they were served, by where", ("where",)),
    "job_failures": ("Failed runs of a resource's step", ("step",)),
}
# histograms: name -> (help, label names, upper bounds)
HISTOGRAMS = {
    "job_duration_seconds": (
        "Duration of a resource's step in a job", ("step",),
        (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)),
}


def field(labels: Mapping[str, str], label_names: Iterable[str]) -> str:
    """The hash field of a label set: its values in the declared order."""
    return json.dumps([str(labels[name]) for name in label_names])


def labels_of(raw: str | bytes) -> list[str]:
    return json.loads(raw)


def bucket_index(bounds: tuple[float, ...], value: float) -> int:
    """Index of the first bucket whose upper bound holds the value
    (len(bounds): only +Inf)."""
    return bisect.bisect_left(bounds, value)


def cumulative(bounds: tuple[float, ...], counts: Mapping[int, int]
               ) -> list[tuple[str, int]]:
    """Prometheus' buckets (le, count of values <= le) from the counts per
    bucket index, +Inf last."""
    running, buckets = 0, []
    for index, bound in enumerate(bounds):
        running += counts.get(index, 0)
        buckets.append((_le(bound), running))
    running += counts.get(len(bounds), 0)
    buckets.append(("+Inf", running))
    return buckets


def _le(bound: float) -> str:
    return str(float(bound))


def bearer_token(header: str | None) -> str | None:
    if header and header.startswith("Bearer "):
        return header[len("Bearer "):].strip() or None
    return None


def token_matches(given: str | None, configured: str) -> bool:
    """Only a configured, non-empty token opens the metrics; compared in
    constant time."""
    return bool(configured) and given is not None and \
        hmac.compare_digest(given.encode(), configured.encode())
