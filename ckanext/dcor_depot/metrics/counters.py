"""Counters and histograms in Redis, shared by every uWSGI process and
every worker machine of the site (they all use the same Redis). One hash
per series; its fields are the label sets. Each increment is one atomic
HINCRBY, so concurrent processes never lose a count, and a restart loses
nothing.

prometheus_client's own multiprocess mode keeps files in a directory per
machine, and would leave the counts of workers on other machines out of a
scrape; hence Redis."""
from __future__ import annotations

import logging
from typing import Mapping

import redis.exceptions
from ckan.lib.redis import connect_to_redis

from . import rules

log = logging.getLogger(__name__)
_KEY = "ckanext-dcor_depot:metrics:{}"


def key(name: str) -> str:
    return _KEY.format(name)


def count(name: str, amount: int = 1, **labels: str) -> None:
    """Add to a counter. A metric is never worth failing the work it
    counts: without Redis, one warning is logged and the work goes on."""
    _, label_names = rules.COUNTERS[name]
    try:
        connect_to_redis().hincrby(key(name),
                                   rules.field(labels, label_names), amount)
    except redis.exceptions.RedisError as exc:
        log.warning("metric %s not counted: %s", name, exc)


def observe(name: str, value: float, **labels: str) -> None:
    """Add an observation to a histogram (one round trip)."""
    _, label_names, bounds = rules.HISTOGRAMS[name]
    at = rules.field(labels, label_names)
    pipe = connect_to_redis().pipeline(transaction=True)
    pipe.hincrby(key(name), f"{at}\tb{rules.bucket_index(bounds, value)}", 1)
    pipe.hincrbyfloat(key(name), f"{at}\tsum", value)
    pipe.hincrby(key(name), f"{at}\tcount", 1)
    try:
        pipe.execute()
    except redis.exceptions.RedisError as exc:
        log.warning("metric %s not observed: %s", name, exc)


def read(name: str) -> Mapping[str, str]:
    """Every field of a series' hash, as text."""
    raw = connect_to_redis().hgetall(key(name))
    return {(k.decode() if isinstance(k, bytes) else k):
            (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()}
