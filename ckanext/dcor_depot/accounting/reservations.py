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
    valid (a multipart upload of resource_upload_multipart_create: within
    its lifetime; an aborted one has no record) and whose resource does
    not exist yet (an upload that was made but never accepted counts as
    staging once reconciled). One aggregate query: its cost does not grow
    with the uploads issued long ago."""
    now = datetime.datetime.utcnow()
    urls_since = now - datetime.timedelta(
        seconds=dcor_config.upload_url_expiry())
    multipart_since = now - datetime.timedelta(
        seconds=dcor_config.multipart_upload_lifetime())
    valid = sa.or_(
        sa.and_(issued.c.upload_id.is_(None), issued.c.issued_at >= urls_since),
        sa.and_(issued.c.upload_id.isnot(None),
                issued.c.issued_at >= multipart_since))
    accepted = sa.select(model.Resource.id).where(
        model.Resource.id == issued.c.resource_id).exists()
    rows = model.Session.execute(
        sa.select(issued.c.organization_id,
                  sa.func.coalesce(sa.func.sum(issued.c.size), 0),
                  sa.func.count())
        .where(valid, ~accepted)
        .group_by(issued.c.organization_id))
    return {circle: (int(size), int(count)) for circle, size, count in rows}
