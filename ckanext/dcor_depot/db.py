"""Tables of this extension (made by its Alembic migrations in
migration/dcor_depot/: `ckan db upgrade -p dcor_depot`) and their queries.

They live in a MetaData of their own, not CKAN's, so CKAN's create_all and
delete_all leave them alone.
"""
from __future__ import annotations

import contextlib
import datetime
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert

from ckan import model

metadata = sa.MetaData()

deletion_table = sa.Table(
    "dcor_depot_deletion", metadata,
    sa.Column("kind", sa.UnicodeText, primary_key=True),  # dataset, resource
    sa.Column("entity_id", sa.UnicodeText, primary_key=True),
    sa.Column("deleted_at", sa.DateTime, nullable=False),
)


def record_deletion(kind: str, entity_id: str) -> None:
    """Note in the current transaction that a dataset or resource was
    deleted now (a second deletion after a restore moves the time on)."""
    now = datetime.datetime.utcnow()
    statement = insert(deletion_table).values(
        kind=kind, entity_id=entity_id, deleted_at=now)
    model.Session.execute(statement.on_conflict_do_update(
        index_elements=["kind", "entity_id"], set_={"deleted_at": now}))


def deletion_times(kind: str, entity_ids: list[str]
                   ) -> dict[str, datetime.datetime]:
    """entity id -> when it was deleted, for those with a record."""
    if not entity_ids:
        return {}
    query = sa.select(deletion_table.c.entity_id,
                      deletion_table.c.deleted_at).where(
        deletion_table.c.kind == kind,
        deletion_table.c.entity_id.in_(entity_ids))
    with model.meta.engine.connect() as connection:
        return dict(connection.execute(query).all())


# Download lists (one name per user, and the items of each list)

download_list_table = sa.Table(
    "dcor_depot_download_list", metadata,
    sa.Column("user_id", sa.UnicodeText, primary_key=True),
    sa.Column("name", sa.UnicodeText, nullable=False),
)

download_list_item_table = sa.Table(
    "dcor_depot_download_list_item", metadata,
    sa.Column("user_id", sa.UnicodeText, primary_key=True),
    sa.Column("resource_id", sa.UnicodeText, primary_key=True),
    sa.Column("added_at", sa.DateTime, nullable=False),
)


# Access requests of the download list (one per user and circle while
# open; the files each names)

access_request_table = sa.Table(
    "dcor_depot_access_request", metadata,
    sa.Column("id", sa.UnicodeText, primary_key=True),
    sa.Column("user_id", sa.UnicodeText, nullable=False),
    sa.Column("organization_id", sa.UnicodeText, nullable=False),
    sa.Column("state", sa.UnicodeText, nullable=False),
    sa.Column("message", sa.UnicodeText, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("decided_by", sa.UnicodeText),
    sa.Column("reason", sa.UnicodeText),
)

access_request_item_table = sa.Table(
    "dcor_depot_access_request_item", metadata,
    sa.Column("request_id", sa.UnicodeText, primary_key=True),
    sa.Column("resource_id", sa.UnicodeText, primary_key=True),
)


# Storage accounting (the objects of each bucket, and when each bucket was
# last reconciled against its listing)

stored_object_table = sa.Table(
    "dcor_depot_stored_object", metadata,
    sa.Column("bucket", sa.UnicodeText, primary_key=True),
    sa.Column("key", sa.UnicodeText, primary_key=True),
    sa.Column("artifact", sa.UnicodeText, nullable=False),
    sa.Column("resource_id", sa.UnicodeText, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
)

# bytes and objects per bucket: the sums of stored_object_table, kept by
# a trigger on it (migration b2e6f4a9c3d1); read by the quota check
bucket_total_table = sa.Table(
    "dcor_depot_bucket_total", metadata,
    sa.Column("bucket", sa.UnicodeText, primary_key=True),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("objects", sa.BigInteger, nullable=False),
)

bucket_reconciled_table = sa.Table(
    "dcor_depot_bucket_reconciled", metadata,
    sa.Column("bucket", sa.UnicodeText, primary_key=True),
    sa.Column("reconciled_at", sa.DateTime, nullable=False),
    sa.Column("drift_bytes", sa.BigInteger, nullable=False),
)

circle_quota_table = sa.Table(
    "dcor_depot_circle_quota", metadata,
    sa.Column("organization_id", sa.UnicodeText, primary_key=True),
    sa.Column("quota_bytes", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("updated_by", sa.UnicodeText),
)

# The job outbox (job_queue.py) and the issued direct uploads

job_outbox_table = sa.Table(
    "dcor_depot_job_outbox", metadata,
    sa.Column("job_id", sa.UnicodeText, primary_key=True),
    sa.Column("kind", sa.UnicodeText, nullable=False),
    sa.Column("entity_id", sa.UnicodeText, nullable=False),
    sa.Column("requested_at", sa.DateTime, nullable=False),
    sa.Column("starts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("last_error", sa.UnicodeText),
)

issued_upload_table = sa.Table(
    "dcor_depot_issued_upload", metadata,
    sa.Column("resource_id", sa.UnicodeText, primary_key=True),
    sa.Column("organization_id", sa.UnicodeText, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("user_id", sa.UnicodeText),
    sa.Column("part_size", sa.BigInteger, nullable=False),
    sa.Column("part_count", sa.Integer, nullable=False),
    sa.Column("issued_at", sa.DateTime, nullable=False),
    # multipart uploads of resource_upload_multipart_create (else NULL)
    sa.Column("upload_id", sa.UnicodeText),
    sa.Column("package_id", sa.UnicodeText),
    sa.Column("name", sa.UnicodeText),
    sa.Column("last_modified", sa.BigInteger),
    sa.Column("client_sha256", sa.UnicodeText),
)


# Fixity: when each copy of a resource was last read and what it held, and
# the resources whose every copy failed (downloads refuse them)

fixity_copy_table = sa.Table(
    "dcor_depot_fixity_copy", metadata,
    sa.Column("resource_id", sa.UnicodeText, primary_key=True),
    sa.Column("copy", sa.UnicodeText, primary_key=True),  # depot, object
    sa.Column("checked_at", sa.DateTime, nullable=False),
    sa.Column("verified_at", sa.DateTime),  # last time its bytes matched
    sa.Column("result", sa.UnicodeText, nullable=False),
    sa.Column("detail", sa.UnicodeText),
)

integrity_failure_table = sa.Table(
    "dcor_depot_integrity_failure", metadata,
    sa.Column("resource_id", sa.UnicodeText, primary_key=True),
    sa.Column("failed_at", sa.DateTime, nullable=False),
    sa.Column("detail", sa.UnicodeText, nullable=False),
)


# The audit trail (audit/; migration c8e4a1d7f2b5): append-only, a trigger
# refuses UPDATE and any DELETE but the prune's of expired rows

audit_table = sa.Table(
    "dcor_depot_audit", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("actor", sa.UnicodeText, nullable=False),
    sa.Column("action", sa.UnicodeText, nullable=False),
    sa.Column("organization_id", sa.UnicodeText),
    sa.Column("package_id", sa.UnicodeText),
    sa.Column("resource_id", sa.UnicodeText),
    sa.Column("size", sa.BigInteger),
    sa.Column("outcome", sa.UnicodeText, nullable=False),
    sa.Column("detail", JSONB),
)


@contextlib.contextmanager
def advisory_lock(name: str) -> Iterator[bool]:
    """PostgreSQL's session advisory lock named `name`, tried without
    waiting and held for the body on a connection of its own (taken and
    given back in short transactions, so none stays open while the body
    works). Yields whether it was taken. A killed process's lock goes with
    its connection."""
    lock = sa.func.hashtext(name)
    with model.meta.engine.connect() as connection:
        with connection.begin():
            taken = bool(connection.execute(
                sa.select(sa.func.pg_try_advisory_lock(lock))).scalar())
        try:
            yield taken
        finally:
            if taken:
                with connection.begin():
                    connection.execute(
                        sa.select(sa.func.pg_advisory_unlock(lock)))
