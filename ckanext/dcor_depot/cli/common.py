"""Helpers shared by the commands."""
from __future__ import annotations

import datetime

import sqlalchemy as sa

import ckan.model as model


def datasets_query(modified_days: int | None):
    """Ids of active and draft datasets, streamed from the database."""
    query = model.Session.query(model.Package.id).filter(
        model.Package.state.in_(["active", "draft"]))
    if modified_days is not None:
        query = query.filter(
            model.Package.metadata_modified >= _since(modified_days))
    return query.order_by(model.Package.id)


def _since(days: int) -> datetime.datetime:
    return datetime.datetime.utcnow() - datetime.timedelta(days=days)


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


def _resources_query(modified_days: int | None):
    """Active resources of active and draft datasets with the dataset
    fields the checks need, in resource id order."""
    resource, package = model.resource_table, model.package_table
    query = sa.select(
        resource.c.id, resource.c.package_id, resource.c.name,
        resource.c.url, resource.c.url_type, resource.c.state,
        resource.c.size, resource.c.extras,
        package.c.name.label("dataset_name"),
        package.c.private.label("dataset_private"),
        package.c.state.label("dataset_state"), package.c.owner_org,
    ).join(package, package.c.id == resource.c.package_id).where(
        resource.c.state == "active",
        package.c.state.in_(["active", "draft"]))
    if modified_days is not None:
        query = query.where(
            package.c.metadata_modified >= _since(modified_days))
    return query


def count_resources(modified_days: int | None) -> int:
    query = _resources_query(modified_days)
    return model.Session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar()


def iter_resources(modified_days: int | None, page_size: int):
    """(dataset, resource) of every active resource, as package_show would
    give the fields the steps and checks read, one keyset page of rows per
    query: memory holds a page whatever the site's size, and the commits
    of the work in between break no cursor. The dataset dict has id, name,
    private, state and owner_org."""
    last = ""
    while True:
        rows = model.Session.execute(
            _resources_query(modified_days)
            .where(model.resource_table.c.id > last)
            .order_by(model.resource_table.c.id).limit(page_size)).all()
        if not rows:
            return
        for row in rows:
            dataset = {"id": row.package_id, "name": row.dataset_name,
                       "private": row.dataset_private,
                       "state": row.dataset_state,
                       "owner_org": row.owner_org}
            resource = {**(row.extras or {}), "id": row.id,
                        "package_id": row.package_id, "name": row.name,
                        "url": row.url, "url_type": row.url_type,
                        "state": row.state, "size": row.size}
            yield dataset, resource
        last = rows[-1].id
