"""The stored files a resource_search query matches, as the download
list's preview and its query add need them: all matches, not a page.

The query has the meaning of CKAN's resource_search (it reads the
database, so no Solr is needed): one ``field:term`` pair; the files of
active, public datasets; a term is a case-insensitive substring of a text
field, a prefix of ``hash``, a substring of an extra field's JSON, and
equal to any other field. The matches are counted and summed in
PostgreSQL, one row per dataset, so a query that matches 10,000 files
brings 10,000 ids into Python only when they are added."""
from __future__ import annotations

import hashlib
from typing import Callable, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from ckan import model
from ckan.model import misc

from .. import resource_state
from ..db import download_list_item_table as items_table

Resource, Package = model.Resource, model.Package


class QueryRefused(ValueError):
    """Not a resource_search query; the message is one line."""


def criterion(query: str) -> sa.ColumnElement:
    """The WHERE clause of one `field:term` pair, as resource_search
    builds it."""
    field, colon, term = query.partition(":")
    if not colon:
        raise QueryRefused("Must be <field>:<value> pair(s)")
    if field not in Resource.get_columns():
        raise QueryRefused(
            f'Field "{field}" not recognised in resource_search.')
    term = misc.escape_sql_like_special_characters(term)
    if field == "hash":
        return Resource.hash.ilike(term + "%")
    if field in Resource.get_extra_columns():  # a JSON text blob
        return sa.or_(Resource.extras.ilike(f'%"{field}": "%{term}%",%'),
                      Resource.extras.ilike(f'%"{field}": "%{term}%"}}'))
    column = getattr(Resource, field)
    if isinstance(column.property.columns[0].type, sa.UnicodeText):
        return column.ilike(f"%{term}%")
    return column == term


def _matching(where: sa.ColumnElement) -> list[sa.ColumnElement]:
    return [Package.state == "active", Package.private.is_(False),
            Resource.state == "active",
            Resource.url_type.in_(resource_state.STORED_URL_TYPES), where]


class Summary(NamedTuple):
    count: int            # readable stored matches
    total_bytes: int
    already_on_list: int
    add_count: int        # the matches that are not on the list yet
    add_bytes: int
    digest: str           # of the ids that an add would add
    dataset_ids: list[str]  # the readable datasets with matches


def _digest(per_dataset: list[tuple[str, str]]) -> str:
    """One digest of the ids to add, from each dataset's md5 of its ids
    (sorted, comma-joined): (dataset id, md5) pairs."""
    lines = "".join(f"{dataset_id}:{md5}\n"
                    for dataset_id, md5 in sorted(per_dataset))
    return hashlib.sha256(lines.encode()).hexdigest()[:32]


def _ids_md5(ids: list[str]) -> str:
    return hashlib.md5(",".join(sorted(ids)).encode()).hexdigest()


def summary(user_id: str, where: sa.ColumnElement,
            readable: Callable[[model.Package], bool]) -> Summary:
    """Count and sum the matches that the user may read, per dataset in
    PostgreSQL; readability is decided per dataset."""
    on_list = items_table.c.resource_id.is_not(None)
    size = sa.func.coalesce(Resource.size, 0)
    # ids in byte order (collation "C"), the order Python's sorted() has
    new_ids = sa.func.string_agg(Resource.id, aggregate_order_by(
        sa.literal_column("','"), Resource.id.collate("C")))
    rows = model.Session.execute(sa.select(
        Resource.package_id, sa.func.count(), sa.func.sum(size),
        sa.func.count().filter(on_list),
        sa.func.coalesce(sa.func.sum(size).filter(~on_list), 0),
        sa.func.md5(new_ids.filter(~on_list))).select_from(Resource).join(
        Package, Package.id == Resource.package_id).outerjoin(
        items_table, sa.and_(items_table.c.resource_id == Resource.id,
                             items_table.c.user_id == user_id)).where(
        *_matching(where)).group_by(Resource.package_id)).all()
    datasets = {dataset.id: dataset for dataset in model.Session.query(
        Package).filter(Package.id.in_([row[0] for row in rows]))}
    rows = [row for row in rows if readable(datasets[row[0]])]
    return Summary(
        count=sum(row[1] for row in rows),
        total_bytes=int(sum(row[2] for row in rows)),
        already_on_list=sum(row[3] for row in rows),
        add_count=sum(row[1] - row[3] for row in rows),
        add_bytes=int(sum(row[4] for row in rows)),
        digest=_digest([(row[0], row[5]) for row in rows if row[5]]),
        dataset_ids=[row[0] for row in rows])


def ids_to_add(user_id: str, where: sa.ColumnElement,
               dataset_ids: list[str]) -> tuple[list[str], str]:
    """The matches of these datasets that are not on the list, by
    dataset name and position, and their digest (as summary's)."""
    if not dataset_ids:
        return [], _digest([])
    rows = model.Session.execute(sa.select(
        Resource.id, Resource.package_id).select_from(Resource).join(
        Package, Package.id == Resource.package_id).where(
        *_matching(where), Resource.package_id.in_(dataset_ids),
        ~sa.exists().where(items_table.c.user_id == user_id,
                           items_table.c.resource_id == Resource.id)
    ).order_by(Package.name, Resource.position, Resource.id)).all()
    per_dataset: dict[str, list[str]] = {}
    for rid, dataset_id in rows:
        per_dataset.setdefault(dataset_id, []).append(rid)
    return [rid for rid, _ in rows], _digest(
        [(dataset_id, _ids_md5(ids)) for dataset_id, ids in
         per_dataset.items()])
