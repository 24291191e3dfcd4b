"""The download lists in PostgreSQL (tables in db.py, made by the Alembic
migration 7c4e2b9a1d60), read and changed in CKAN's session: a change is
committed with the action that makes it."""
from __future__ import annotations

import datetime
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from ckan import model

from ..db import download_list_item_table as items_table
from ..db import download_list_table as lists_table
from . import rules


def name(user_id: str) -> str:
    stored = model.Session.execute(
        sa.select(lists_table.c.name).where(
            lists_table.c.user_id == user_id)).scalar()
    return stored or rules.DEFAULT_NAME


def lock(user_id: str) -> None:
    """Hold the user's list row until the commit, so that two batches at
    once are checked against the limits one after the other."""
    model.Session.execute(insert(lists_table).values(
        user_id=user_id, name=rules.DEFAULT_NAME).on_conflict_do_nothing())
    model.Session.execute(sa.select(lists_table.c.user_id).where(
        lists_table.c.user_id == user_id).with_for_update())


def entries(user_id: str) -> list[tuple[str, model.Resource, model.Package]]:
    """(resource id, resource, dataset) of the items whose resource and
    dataset are active, oldest first; deleted ones are left out (they
    drop off the list)."""
    query = model.Session.query(
        items_table.c.resource_id, model.Resource, model.Package
    ).join(model.Resource, model.Resource.id == items_table.c.resource_id
           ).join(model.Package, model.Package.id == model.Resource.package_id
                  ).filter(items_table.c.user_id == user_id,
                           model.Resource.state == "active",
                           model.Package.state == "active"
                           ).order_by(items_table.c.added_at,
                                      items_table.c.resource_id)
    return [tuple(row) for row in query.all()]


def resource_ids(user_id: str) -> list[str]:
    """Every id on the list, gone resources included."""
    return list(model.Session.execute(
        sa.select(items_table.c.resource_id).where(
            items_table.c.user_id == user_id)).scalars())


def drop_gone(user_id: str) -> None:
    """Remove the items whose resource or dataset was deleted or purged."""
    active = sa.select(model.Resource.id).join(
        model.Package, model.Package.id == model.Resource.package_id).where(
        model.Resource.state == "active", model.Package.state == "active")
    model.Session.execute(items_table.delete().where(
        items_table.c.user_id == user_id,
        items_table.c.resource_id.not_in(active)))


def add(user_id: str, ids: Iterable[str]) -> None:
    now = datetime.datetime.utcnow()
    # a microsecond apart, so that the list keeps the batch's order
    rows = [{"user_id": user_id, "resource_id": rid,
             "added_at": now + datetime.timedelta(microseconds=index)}
            for index, rid in enumerate(ids)]
    if rows:
        model.Session.execute(
            insert(items_table).values(rows).on_conflict_do_nothing())


def remove(user_id: str, ids: Iterable[str]) -> None:
    model.Session.execute(items_table.delete().where(
        items_table.c.user_id == user_id,
        items_table.c.resource_id.in_(list(ids))))


def clear(user_id: str) -> None:
    model.Session.execute(items_table.delete().where(
        items_table.c.user_id == user_id))


def rename(user_id: str, new_name: str) -> None:
    model.Session.execute(insert(lists_table).values(
        user_id=user_id, name=new_name).on_conflict_do_update(
        index_elements=["user_id"], set_={"name": new_name}))


def count(user_id: str) -> int:
    """The number of items of active resources (for the menu)."""
    return model.Session.query(sa.func.count()).select_from(
        items_table).join(
        model.Resource, model.Resource.id == items_table.c.resource_id).join(
        model.Package, model.Package.id == model.Resource.package_id).filter(
        items_table.c.user_id == user_id, model.Resource.state == "active",
        model.Package.state == "active").scalar()
