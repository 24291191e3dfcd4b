"""Writing and reading the audit table (db.audit_table).

Writing never raises. An event is written either in the transaction of
the change it records (`session=`: CKAN's session in a request, so both
commit or neither), or at once on a connection of its own. When
PostgreSQL refuses that write, the event goes to a list in Redis (the
spool) with its own time, and `flush_spool` (the workers' sweep, the
audit commands) moves it into the table later. Only when both fail is it
lost, and then it is logged at ERROR whole, so that the log holds it.
"""
from __future__ import annotations

import datetime
import json
import logging
import os
from typing import Any, Iterable, Iterator

import sqlalchemy as sa

from ckan import model

from ..db import audit_table as table
from . import rules
from .actor import current_actor

log = logging.getLogger(__name__)

SPOOL_KEY = "dcor_depot:audit_spool"
_SPOOL_BATCH = 500
_STREAM_ROWS = 1000
_LOCK = sa.func.hashtext("dcor_depot audit spool")
PRUNE_SETTING = "dcor_depot.audit_prune_before"
# process id -> the engine of grants. A forked child makes its own and
# never touches (nor lets the garbage collector close) its parent's.
_GRANT_ENGINES: dict[int, sa.engine.Engine] = {}


def _grant_engine() -> sa.engine.Engine:
    """Connections whose every statement commits at once (one round trip
    per row) without waiting for the WAL flush: on disk within three times
    PostgreSQL's wal_writer_delay."""
    pid = os.getpid()
    engine = _GRANT_ENGINES.get(pid)
    if engine is None:
        engine = sa.create_engine(
            model.meta.engine.url, isolation_level="AUTOCOMMIT",
            pool_size=2, max_overflow=10, pool_recycle=3600,
            connect_args={"options": "-c synchronous_commit=off"})
        _GRANT_ENGINES[pid] = engine
    return engine


def _now() -> datetime.datetime:
    return datetime.datetime.utcnow()


def event_row(action: str, *, actor: str | None = None,
              circle_id: str | None = None, package_id: str | None = None,
              resource_id: str | None = None, size: int | None = None,
              outcome: str = "ok", detail: dict[str, Any] | None = None,
              at: datetime.datetime | None = None) -> dict[str, Any]:
    """The row of one event (the actor of the context when none is
    named)."""
    return {"at": at or _now(), "actor": actor or current_actor(),
            "action": action, "organization_id": circle_id,
            "package_id": package_id, "resource_id": resource_id,
            "size": None if size is None else int(size),
            "outcome": outcome, "detail": rules.bounded_detail(detail)}


def record(action: str, *, actor: str | None = None,
           circle_id: str | None = None, package_id: str | None = None,
           resource_id: str | None = None, size: int | None = None,
           outcome: str = "ok", detail: dict[str, Any] | None = None,
           session: Any = None, wait_for_disk: bool = True) -> None:
    """Record one event; never raises.

    `actor` defaults to the one of the context (audit.acting_as, or the
    request's user). With `session` (a SQLAlchemy session or connection
    in a transaction) the row is part of that transaction; otherwise it is
    committed at once (or spooled to Redis if PostgreSQL refuses it).
    `wait_for_disk=False` (for requests that grant bytes) commits without
    waiting for PostgreSQL's WAL flush: see doc/architecture.rst.
    """
    try:
        row = event_row(action, actor=actor, circle_id=circle_id,
                        package_id=package_id, resource_id=resource_id,
                        size=size, outcome=outcome, detail=detail)
    except Exception as exc:  # a detail that is not even a string
        row = event_row(action, actor=actor, circle_id=circle_id,
                        package_id=package_id, resource_id=resource_id,
                        outcome=outcome, detail={"unwritable": str(exc)})
    record_rows([row], session=session, wait_for_disk=wait_for_disk)


def record_rows(rows: list[dict[str, Any]], session: Any = None,
                wait_for_disk: bool = True) -> None:
    """Record several events at once (one statement); never raises."""
    if not rows:
        return
    if session is not None:
        try:
            # a savepoint: a refused row leaves the caller's transaction
            # usable
            with session.begin_nested():
                session.execute(table.insert(), rows)
            return
        except Exception as exc:
            log.warning("audit: not written in the transaction (%s); "
                        "spooled", exc)
            _spool(rows)
            return
    try:
        if wait_for_disk:
            with model.meta.engine.begin() as connection:
                connection.execute(table.insert(), rows)
        else:
            with _grant_engine().connect() as connection:
                connection.execute(table.insert(), rows)
    except Exception as exc:
        log.warning("audit: not written (%s); spooled", exc)
        _spool(rows)


def _redis():
    from ckan.lib.redis import connect_to_redis
    return connect_to_redis()


def _spool(rows: list[dict[str, Any]]) -> None:
    lines = [json.dumps(row, default=str) for row in rows]
    try:
        _redis().rpush(SPOOL_KEY, *lines)
    except Exception as exc:
        for line in lines:
            log.error("audit: event lost (neither PostgreSQL nor Redis "
                      "took it: %s): %s", exc, line)


def _from_spool(line: bytes | str) -> dict[str, Any]:
    row = json.loads(line)
    row["at"] = datetime.datetime.fromisoformat(row["at"])
    return row


def flush_spool(engine: sa.engine.Engine | None = None) -> int:
    """Move the spooled events into the table; returns how many. One
    flush at a time (an advisory lock); rows leave Redis only after their
    insert committed."""
    try:
        redis = _redis()
        if not redis.llen(SPOOL_KEY):
            return 0
    except Exception as exc:
        log.warning("audit: spool not read: %s", exc)
        return 0
    moved = 0
    with (engine or model.meta.engine).connect() as connection:
        with connection.begin():
            taken = connection.execute(
                sa.select(sa.func.pg_try_advisory_lock(_LOCK))).scalar()
        if not taken:
            return 0
        try:
            while True:
                lines = redis.lrange(SPOOL_KEY, 0, _SPOOL_BATCH - 1)
                if not lines:
                    break
                with connection.begin():
                    connection.execute(table.insert(),
                                       [_from_spool(x) for x in lines])
                redis.ltrim(SPOOL_KEY, len(lines), -1)
                moved += len(lines)
        finally:
            with connection.begin():
                connection.execute(sa.select(
                    sa.func.pg_advisory_unlock(_LOCK)))
    if moved:
        log.info("audit: %d spooled events written", moved)
    return moved


# Reading

def _filtered(query, filters: dict[str, Any]):
    columns = {"circle": table.c.organization_id,
               "dataset": table.c.package_id,
               "resource": table.c.resource_id,
               "actor": table.c.actor, "action": table.c.action}
    for name, column in columns.items():
        if filters.get(name):
            query = query.where(column == filters[name])
    if filters.get("circles") is not None:  # the circles one may read
        query = query.where(table.c.organization_id.in_(filters["circles"]))
    return query.where(*time_range(filters.get("since"),
                                   filters.get("until")))


def page(filters: dict[str, Any], limit: int, before: int | None
         ) -> list[dict[str, Any]]:
    """The newest rows matching the filters, older than the row `before`
    (keyset: by id, descending)."""
    query = _filtered(sa.select(table), filters)
    if before is not None:
        query = query.where(table.c.id < before)
    query = query.order_by(table.c.id.desc()).limit(limit)
    with model.meta.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def time_range(since: datetime.datetime | None,
               until: datetime.datetime | None) -> list[Any]:
    """The conditions of rows at or after `since` and before `until`."""
    where = []
    if since is not None:
        where.append(table.c.at >= since)
    if until is not None:
        where.append(table.c.at < until)
    return where


def stream(since: datetime.datetime | None, until: datetime.datetime | None
           ) -> Iterator[dict[str, Any]]:
    """The rows of a time range in the order written, from a server-side
    cursor (memory stays flat)."""
    query = sa.select(table).where(*time_range(since, until)
                                   ).order_by(table.c.id)
    with model.meta.engine.connect() as connection:
        result = connection.execution_options(
            stream_results=True, yield_per=_STREAM_ROWS).execute(query)
        for row in result:
            yield dict(row._mapping)


def expired_count(before: datetime.datetime) -> int:
    return count([table.c.at < before])


def prune(before: datetime.datetime, batch: int = 10_000
          ) -> Iterator[int]:
    """Delete the rows older than `before`, a batch per transaction (the
    trigger lets a transaction that names the cutoff delete those, and
    only those); yields how many each batch removed."""
    while True:
        with model.meta.engine.begin() as connection:
            connection.execute(sa.select(sa.func.set_config(
                PRUNE_SETTING, before.isoformat(sep=" "), True)))
            doomed = sa.select(table.c.id).where(
                table.c.at < before).order_by(table.c.id).limit(batch)
            removed = connection.execute(table.delete().where(
                table.c.id.in_(doomed.scalar_subquery()))).rowcount
        if not removed:
            return
        yield removed


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    """A row as plain JSON values."""
    return {**row, "at": row["at"].isoformat()}


def resource_events(resource_id: str, limit: int) -> list[dict[str, Any]]:
    return page({"resource": resource_id}, limit, None)


def count(where: Iterable[Any] = ()) -> int:
    with model.meta.engine.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(table).where(*where)
        ).scalar()
