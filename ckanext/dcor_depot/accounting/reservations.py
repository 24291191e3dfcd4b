"""Bytes reserved by direct uploads that were issued but not accepted.

The one place that reads them, from the issued uploads' table
(workflows/direct_upload.py writes it when it issues URLs)."""
from __future__ import annotations

import datetime

import sqlalchemy as sa
from ckan import model

from .. import config as dcor_config
from ..db import issued_upload_table as issued


def reserved_by_circle() -> dict[str, tuple[int, int]]:
    """circle id -> (bytes, uploads) of issued uploads whose URLs are still
    valid and whose resource does not exist yet (an upload that was made
    but never accepted counts as staging once reconciled). One aggregate
    query: its cost does not grow with the uploads issued long ago."""
    valid_since = datetime.datetime.utcnow() - datetime.timedelta(
        seconds=dcor_config.upload_url_expiry())
    accepted = sa.select(model.Resource.id).where(
        model.Resource.id == issued.c.resource_id).exists()
    rows = model.Session.execute(
        sa.select(issued.c.organization_id,
                  sa.func.coalesce(sa.func.sum(issued.c.size), 0),
                  sa.func.count())
        .where(issued.c.issued_at >= valid_since, ~accepted)
        .group_by(issued.c.organization_id))
    return {circle: (int(size), int(count)) for circle, size, count in rows}
