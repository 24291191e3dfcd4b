"""Bytes reserved by direct uploads that were issued but not accepted.

The one place that reads them: today the issue records live in Redis
(workflows/direct_upload.py); when they move into PostgreSQL, only the
body of `reserved_by_circle` changes."""
from __future__ import annotations

import json

import sqlalchemy as sa
from ckan import model
from ckan.lib.redis import connect_to_redis

from .. import config as dcor_config
from ..workflows import direct_upload

_SCAN_BATCH = 1000


def reserved_by_circle() -> dict[str, tuple[int, int]]:
    """circle id -> (bytes, uploads) of issued uploads whose URLs are still
    valid and whose resource does not exist yet (an upload that was made
    but never accepted counts as staging once reconciled)."""
    redis = connect_to_redis()
    pattern = direct_upload._ISSUED.format("*")
    valid_for = dcor_config.upload_url_expiry()
    reserved: dict[str, tuple[int, int]] = {}
    batch: list[bytes] = []

    def settle(keys: list[bytes]) -> None:
        pipe = redis.pipeline()
        for key in keys:
            pipe.get(key)
            pipe.ttl(key)
        answers = pipe.execute()
        found = {}
        for key, raw, ttl in zip(keys, answers[::2], answers[1::2]):
            if raw is None or direct_upload.ISSUED_ID_TTL - ttl > valid_for:
                continue  # gone, or its URLs have expired
            rid = (key if isinstance(key, str) else key.decode()
                   ).rsplit(":", 1)[1]
            found[rid] = json.loads(raw)
        if not found:
            return
        existing = set(model.Session.execute(
            sa.select(model.Resource.id).where(
                model.Resource.id.in_(list(found)))).scalars())
        for rid, record in found.items():
            if rid not in existing:
                size, count = reserved.get(record["circle"], (0, 0))
                reserved[record["circle"]] = (size + record["size"], count + 1)

    for key in redis.scan_iter(match=pattern, count=_SCAN_BATCH):
        batch.append(key)
        if len(batch) >= _SCAN_BATCH:
            settle(batch)
            batch = []
    if batch:
        settle(batch)
    return reserved
