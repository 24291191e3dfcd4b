"""The accounting tables in PostgreSQL (db.py; migration e26a5c0d7b13).

Writes commit on their own connection at once: a job records an object
right after S3 has it, whatever becomes of CKAN's session. A job killed
between the two leaves drift that the reconcile corrects.
"""
from __future__ import annotations

import datetime
from typing import Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from ckan import model

from ..db import bucket_reconciled_table as reconciled_table
from ..db import bucket_total_table as totals_table
from ..db import job_outbox_table as outbox_table
from ..db import stored_object_table as objects_table
from . import rules

_STREAM_ROWS = 1000


def _now() -> datetime.datetime:
    return datetime.datetime.utcnow()


def record_object(bucket: str, key: str, size: int) -> None:
    """Note that the bucket holds the object with this size (keys that are
    not ours are ignored)."""
    kind = rules.classify_key(key)
    if kind is None:
        return
    now = _now()
    statement = insert(objects_table).values(
        bucket=bucket, key=key, artifact=kind[0], resource_id=kind[1],
        size=size, recorded_at=now)
    with model.meta.engine.begin() as connection:
        connection.execute(statement.on_conflict_do_update(
            index_elements=["bucket", "key"],
            set_={"size": size, "recorded_at": now}))


def forget_object(bucket: str, key: str) -> None:
    """Note that the object was removed from the bucket."""
    with model.meta.engine.begin() as connection:
        connection.execute(objects_table.delete().where(
            objects_table.c.bucket == bucket, objects_table.c.key == key))


def recorded_objects(connection, bucket: str) -> Iterator[tuple[str, int]]:
    """(key, size) of a bucket's records in byte order, streamed."""
    query = sa.select(objects_table.c.key, objects_table.c.size).where(
        objects_table.c.bucket == bucket).order_by(
        objects_table.c.key.collate("C"))
    result = connection.execution_options(
        stream_results=True, yield_per=_STREAM_ROWS).execute(query)
    for key, size in result:
        yield key, size


def correct(bucket: str, found: Iterable[rules.Difference]) -> None:
    """Make the records of one batch of differences match the listing."""
    now = _now()
    with model.meta.engine.begin() as connection:
        for difference in found:
            if difference.listed_size is None:
                connection.execute(objects_table.delete().where(
                    objects_table.c.bucket == bucket,
                    objects_table.c.key == difference.key))
                continue
            artifact, rid = rules.classify_key(difference.key)
            statement = insert(objects_table).values(
                bucket=bucket, key=difference.key, artifact=artifact,
                resource_id=rid, size=difference.listed_size,
                recorded_at=now)
            connection.execute(statement.on_conflict_do_update(
                index_elements=["bucket", "key"],
                set_={"size": difference.listed_size, "recorded_at": now}))


def note_reconciled(bucket: str, drift_bytes: int) -> None:
    now = _now()
    with model.meta.engine.begin() as connection:
        connection.execute(insert(reconciled_table).values(
            bucket=bucket, reconciled_at=now, drift_bytes=drift_bytes
        ).on_conflict_do_update(index_elements=["bucket"], set_={
            "reconciled_at": now, "drift_bytes": drift_bytes}))


def used_by_artifact(bucket: str | None = None
                     ) -> dict[str, dict[str, tuple[int, int]]]:
    """bucket -> artifact -> (bytes, files); one bucket or all."""
    query = sa.select(objects_table.c.bucket, objects_table.c.artifact,
                      sa.func.sum(objects_table.c.size),
                      sa.func.count()).group_by(
        objects_table.c.bucket, objects_table.c.artifact)
    if bucket is not None:
        query = query.where(objects_table.c.bucket == bucket)
    used: dict[str, dict[str, tuple[int, int]]] = {}
    for name, artifact, size, files in model.Session.execute(query):
        used.setdefault(name, {})[artifact] = (int(size or 0), files)
    return used


def bucket_bytes(bucket: str) -> int:
    """What the ledger records in one bucket, in bytes: one row of the
    totals a trigger keeps beside the ledger, whatever the bucket's
    size (the quota check)."""
    return int(model.Session.execute(sa.select(totals_table.c.bytes).where(
        totals_table.c.bucket == bucket)).scalar() or 0)


def reconciled_at(bucket: str | None = None) -> dict[str, datetime.datetime]:
    query = sa.select(reconciled_table.c.bucket,
                      reconciled_table.c.reconciled_at)
    if bucket is not None:
        query = query.where(reconciled_table.c.bucket == bucket)
    return dict(model.Session.execute(query).all())


def dataset_counts(organization_id: str | None = None
                   ) -> dict[str, tuple[int, int]]:
    """circle id -> (active datasets, their active resources)."""
    package, resource = model.Package.__table__, model.Resource.__table__
    query = sa.select(
        package.c.owner_org, sa.func.count(sa.distinct(package.c.id)),
        sa.func.count(resource.c.id)).select_from(
        package.outerjoin(resource, sa.and_(
            resource.c.package_id == package.c.id,
            resource.c.state == "active"))).where(
        package.c.state == "active",
        package.c.owner_org.isnot(None)).group_by(package.c.owner_org)
    if organization_id is not None:
        query = query.where(package.c.owner_org == organization_id)
    return {org: (datasets, resources) for org, datasets, resources
            in model.Session.execute(query)}


def largest_datasets(bucket: str, limit: int = rules.LARGEST_DATASETS
                     ) -> list[dict]:
    """The datasets whose objects in the bucket take the most bytes."""
    package, resource = model.Package.__table__, model.Resource.__table__
    size = sa.func.sum(objects_table.c.size).label("bytes")
    query = sa.select(package.c.id, package.c.name, package.c.title, size,
                      sa.func.count().label("files")).select_from(
        objects_table.join(resource,
                           resource.c.id == objects_table.c.resource_id
                           ).join(package,
                                  package.c.id == resource.c.package_id)
    ).where(objects_table.c.bucket == bucket).group_by(
        package.c.id, package.c.name, package.c.title).order_by(
        size.desc(), package.c.name).limit(limit)
    return [{"id": row.id, "name": row.name, "title": row.title,
             "bytes": int(row.bytes), "files": row.files}
            for row in model.Session.execute(query)]


def pending_upload_bytes(organization_id: str, bucket: str,
                         resource_jobs: Iterable[str],
                         dataset_jobs: Iterable[str]) -> int:
    """Bytes of the circle's files uploaded through CKAN that its bucket
    does not hold yet. From the commit of their resource until the jobs
    record the object, an outbox row names the resource (`resource_jobs`:
    the depot move, then the upload, which the move asks for before its
    own row goes) or its dataset (`dataset_jobs`: the job that queues the
    steps of files that came with package_create/update/revise). The
    outbox holds only work in flight, so the cost does not grow with what
    the circle stores; each resource counts once, and not at all once its
    object is recorded."""
    package, resource = model.Package.__table__, model.Resource.__table__
    rid = resource.c.id
    key = sa.func.concat("resource/", sa.func.substr(rid, 1, 3), "/",
                         sa.func.substr(rid, 4, 3), "/",
                         sa.func.substr(rid, 7))
    named = sa.select(outbox_table.c.entity_id.label("id")).where(
        outbox_table.c.kind.in_(list(resource_jobs)))
    of_datasets = sa.select(rid.label("id")).select_from(resource.join(
        outbox_table, outbox_table.c.entity_id == resource.c.package_id)
    ).where(outbox_table.c.kind.in_(list(dataset_jobs)))
    in_flight = sa.union(named, of_datasets).subquery()
    recorded = sa.select(objects_table.c.key).where(
        objects_table.c.bucket == bucket,
        objects_table.c.key == key).exists()
    query = sa.select(sa.func.coalesce(sa.func.sum(resource.c.size), 0)
                      ).select_from(in_flight.join(
                          resource, rid == in_flight.c.id).join(
                          package, package.c.id == resource.c.package_id)
                      ).where(package.c.owner_org == organization_id,
                              resource.c.state == "active",
                              resource.c.url_type == "upload", ~recorded)
    return int(model.Session.execute(query).scalar() or 0)
