"""Helpers shared by the commands."""
from __future__ import annotations

import datetime

import ckan.model as model


def datasets_query(modified_days: int | None):
    """Ids of active and draft datasets, streamed from the database."""
    query = model.Session.query(model.Package.id).filter(
        model.Package.state.in_(["active", "draft"]))
    if modified_days is not None:
        since = datetime.datetime.utcnow() - datetime.timedelta(
            days=modified_days)
        query = query.filter(model.Package.metadata_modified >= since)
    return query.order_by(model.Package.id)


def iter_dataset_ids(modified_days: int | None, batch: int = 200):
    """Dataset ids in batches by key, so memory stays flat and the commits
    of the work in between do not break a server-side cursor."""
    last = ""
    while True:
        ids = [row.id for row in datasets_query(modified_days)
               .filter(model.Package.id > last).limit(batch)]
        if not ids:
            return
        yield from ids
        last = ids[-1]
