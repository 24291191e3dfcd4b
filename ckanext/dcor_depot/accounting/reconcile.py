"""Reconciling the records with the buckets: each bucket is listed page by
page and merged with its records (both in key order), so memory holds one
page whatever the bucket's size. Differences are corrected a page at a
time; the drift of a bucket is what its listing holds minus what was
recorded."""
from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Callable, Iterator

import botocore.exceptions

from ckan import model

from .. import config as dcor_config
from ..storage import s3
from . import rules, store

_BATCH = 1000


@dataclasses.dataclass
class BucketDrift:
    bucket: str
    objects: int = 0  # of ours, listed
    listed_bytes: int = 0
    drift_bytes: int = 0
    differences: int = 0


def _listed(client: Any, bucket: str, drift: BucketDrift,
            on_page: Callable[[int], None]) -> Iterator[tuple[str, int]]:
    try:
        for page in s3.object_pages(
                client, bucket,
                page_size=dcor_config.maintenance_page_size()):
            for entry in page:
                if rules.classify_key(entry["Key"]) is not None:
                    drift.objects += 1
                    drift.listed_bytes += entry["Size"]
                    yield entry["Key"], entry["Size"]
            on_page(len(page))
    except botocore.exceptions.ClientError as exc:
        if s3.error_code(exc) != "NoSuchBucket":
            raise  # a circle without a bucket holds nothing


def reconcile_bucket(client: Any, bucket: str, correct: bool = True,
                     on_page: Callable[[int], None] = lambda n: None
                     ) -> BucketDrift:
    """Compare a bucket's listing with its records; with `correct`, make
    the records match and note the time and the drift found."""
    drift = BucketDrift(bucket)
    with model.meta.engine.connect() as connection:
        found = rules.differences(
            _listed(client, bucket, drift, on_page),
            store.recorded_objects(connection, bucket))
        while True:
            batch = list(itertools.islice(found, _BATCH))
            if not batch:
                break
            drift.differences += len(batch)
            drift.drift_bytes += sum(d.drift_bytes for d in batch)
            if correct:
                # another connection: the records being streamed stay as
                # read, and each page's corrections commit on their own
                store.correct(bucket, batch)
    if correct:
        store.note_reconciled(bucket, drift.drift_bytes)
    return drift
