"""The fixity tables: when each copy was read and what it held, and the
resources without any good copy. Each call is its own short transaction,
so a run killed at any point keeps what it recorded."""
from __future__ import annotations

import dataclasses
import datetime
from typing import Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from ckan import model

from .. import db, resource_state
from . import rules

_copies = db.fixity_copy_table
_failures = db.integrity_failure_table


@dataclasses.dataclass(frozen=True)
class Due:
    resource_id: str
    size: int | None
    due_at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class Scope:
    """What a run looks at (empty: every stored resource)."""
    resource_ids: tuple[str, ...] = ()
    dataset_ids: tuple[str, ...] = ()
    circle_ids: tuple[str, ...] = ()


_STORED = sa.text("""
    SELECT r.id AS resource_id, r.size,
           least(coalesce(d.checked_at, :never),
                 CASE WHEN :s3 THEN coalesce(o.checked_at, :never)
                      ELSE 'infinity'::timestamp END) AS due_at
    FROM resource r
    JOIN package p ON p.id = r.package_id
    LEFT JOIN dcor_depot_fixity_copy d
      ON d.resource_id = r.id AND d.copy = 'depot'
    LEFT JOIN dcor_depot_fixity_copy o
      ON o.resource_id = r.id AND o.copy = 'object'
    WHERE r.state = 'active' AND p.state IN ('active', 'draft')
      AND r.url_type IN :url_types
      AND (:all_resources OR r.id IN :resource_ids)
      AND (:all_datasets OR p.id IN :dataset_ids)
      AND (:all_circles OR p.owner_org IN :circle_ids)
""").bindparams(sa.bindparam("url_types", expanding=True),
                sa.bindparam("resource_ids", expanding=True),
                sa.bindparam("dataset_ids", expanding=True),
                sa.bindparam("circle_ids", expanding=True))


def _scope_params(scope: Scope, s3: bool) -> dict:
    # an expanding parameter may not be empty: a placeholder that matches
    # nothing stands in where the filter is off anyway
    return {"never": rules.NEVER, "s3": s3,
            "url_types": list(resource_state.STORED_URL_TYPES),
            "all_resources": not scope.resource_ids,
            "resource_ids": list(scope.resource_ids) or [""],
            "all_datasets": not scope.dataset_ids,
            "dataset_ids": list(scope.dataset_ids) or [""],
            "all_circles": not scope.circle_ids,
            "circle_ids": list(scope.circle_ids) or [""]}


def due_resources(scope: Scope, started: datetime.datetime, s3: bool,
                  batch: int = 500) -> Iterator[Due]:
    """Stored resources in the order they are due (least recently read
    copy first), page by page by key, so memory stays flat. Only those
    not read since `started`: what this run reads leaves the list."""
    after: tuple[datetime.datetime, str] = (datetime.datetime.min, "")
    while True:
        query = sa.text(f"""
            SELECT * FROM ({_STORED.text}) AS stored
            WHERE due_at < :started
              AND (due_at, resource_id) > (:after_due, :after_id)
            ORDER BY due_at, resource_id LIMIT :batch
        """).bindparams(*_STORED._bindparams.values())
        with model.meta.engine.connect() as connection:
            rows = connection.execute(query, {
                **_scope_params(scope, s3), "started": started,
                "after_due": after[0], "after_id": after[1],
                "batch": batch}).all()
        if not rows:
            return
        for row in rows:
            yield Due(row.resource_id, row.size, row.due_at)
        after = (rows[-1].due_at, rows[-1].resource_id)


def count_in_scope(scope: Scope, s3: bool) -> tuple[int, int]:
    """(resources, bytes of one copy each) a run over `scope` may read."""
    query = sa.text(f"SELECT count(*) AS n, coalesce(sum(size), 0) AS b "
                    f"FROM ({_STORED.text}) AS stored").bindparams(
        *_STORED._bindparams.values())
    with model.meta.engine.connect() as connection:
        row = connection.execute(query, _scope_params(scope, s3)).one()
    return row.n, int(row.b)


def record(resource_id: str, copy: str, result: str,
           when: datetime.datetime, detail: str | None = None) -> None:
    """What a read of one copy found (a good result is also the time it
    was last verified)."""
    values = {"resource_id": resource_id, "copy": copy, "checked_at": when,
              "result": result, "detail": detail}
    update = {"checked_at": when, "result": result, "detail": detail}
    if result in rules.GOOD:
        values["verified_at"] = update["verified_at"] = when
    with model.meta.engine.begin() as connection:
        connection.execute(insert(_copies).values(**values)
                           .on_conflict_do_update(
                               index_elements=["resource_id", "copy"],
                               set_=update))


def copy_records(resource_id: str) -> dict[str, dict]:
    """copy -> its row (checked_at, verified_at, result, detail)."""
    with model.meta.engine.connect() as connection:
        rows = connection.execute(sa.select(_copies).where(
            _copies.c.resource_id == resource_id)).all()
    return {row.copy: dict(row._mapping) for row in rows}


def mark_failed(resource_id: str, detail: str,
                when: datetime.datetime) -> bool:
    """Mark a resource `integrity: failed`. True if it was not marked."""
    with model.meta.engine.begin() as connection:
        result = connection.execute(
            insert(_failures).values(resource_id=resource_id,
                                     failed_at=when, detail=detail)
            .on_conflict_do_update(index_elements=["resource_id"],
                                   set_={"detail": detail})
            .returning(sa.literal_column("(xmax = 0)").label("inserted")))
        return bool(result.scalar())


def clear_failed(resource_id: str) -> bool:
    """Take the mark off. True if there was one."""
    with model.meta.engine.begin() as connection:
        return connection.execute(_failures.delete().where(
            _failures.c.resource_id == resource_id)).rowcount > 0


def failure(resource_id: str) -> dict | None:
    """The mark of a resource (failed_at, detail), or None."""
    with model.meta.engine.connect() as connection:
        row = connection.execute(sa.select(_failures).where(
            _failures.c.resource_id == resource_id)).first()
    return dict(row._mapping) if row else None


def failed_among(resource_ids: Iterable[str]) -> set[str]:
    """Those of the ids that are marked (one query)."""
    ids = list(resource_ids)
    if not ids:
        return set()
    with model.meta.engine.connect() as connection:
        return set(connection.execute(
            sa.select(_failures.c.resource_id).where(
                _failures.c.resource_id.in_(ids))).scalars())


def failed_count() -> int:
    """Marked resources that are still active (the metrics' gauge)."""
    query = sa.text("""
        SELECT count(*) FROM dcor_depot_integrity_failure f
        JOIN resource r ON r.id = f.resource_id WHERE r.state = 'active'""")
    with model.meta.engine.connect() as connection:
        return connection.execute(query).scalar() or 0


_BACKLOG = sa.text("""
    SELECT count(*) AS copies, coalesce(sum(size), 0) AS total_bytes,
           count(*) FILTER (WHERE overdue) AS overdue,
           coalesce(sum(size) FILTER (WHERE overdue), 0) AS overdue_bytes,
           min(verified_at) AS oldest, bool_or(verified_at IS NULL) AS never
    FROM (SELECT coalesce(r.size, 0) AS size, f.verified_at,
                 f.verified_at IS NULL OR f.verified_at < :cutoff AS overdue
          FROM resource r
          JOIN package p ON p.id = r.package_id
          CROSS JOIN (SELECT unnest(CAST(:copies AS text[])) AS copy) c
          LEFT JOIN dcor_depot_fixity_copy f
            ON f.resource_id = r.id AND f.copy = c.copy
          WHERE r.state = 'active' AND p.state IN ('active', 'draft')
            AND r.url_type IN :url_types
            AND coalesce(f.result, '') <> 'absent') AS copies
""").bindparams(sa.bindparam("url_types", expanding=True))


def backlog(window_days: int, now: datetime.datetime,
            s3: bool) -> rules.Backlog:
    """Copies of the site's stored resources, and those not verified
    within the window (copies the site does not keep are not counted)."""
    copies = list(rules.COPIES if s3 else (rules.DEPOT,))
    with model.meta.engine.connect() as connection:
        row = connection.execute(_BACKLOG, {
            "cutoff": now - datetime.timedelta(days=window_days),
            "copies": copies,
            "url_types": list(resource_state.STORED_URL_TYPES)}).one()
    return rules.Backlog(row.copies, int(row.total_bytes), row.overdue,
                         int(row.overdue_bytes),
                         None if row.never else row.oldest)
