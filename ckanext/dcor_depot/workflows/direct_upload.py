"""Direct uploads: a client puts a new resource's file straight into S3.

1. `issue_upload_urls`: presigned URLs for a fresh resource id. They point
   at a staging key, sign the length of every part and expire after
   `upload_url_expiry`. The issue is recorded in PostgreSQL (circle,
   size, part layout), committed before the URLs are handed out, so it
   survives a restart of Redis or of the site.
2. `accept_direct_upload`: when the client creates the resource, the
   staging object must exist in the dataset's own circle bucket with the
   announced size; it is copied inside the object store to the resource's
   key. Issued URLs can therefore never touch an accepted object.
3. `backup_object_to_depot` (a job): the object is streamed into the user
   depot, verified and symlinked at CKAN's path; then sha256 is set (and
   compared with the sha256 the client computed, if it gave one) and the
   staging object removed.

Clients that sign part by part (the browser) start, sign and complete
their upload with workflows/multipart_upload.py and end in step 2.
"""
from __future__ import annotations

import datetime
import os
import uuid
from typing import Any

import sqlalchemy as sa

import ckan.plugins.toolkit as tk
from ckan import model

from .. import config as dcor_config
from .. import db, naming, resource_state, transfer_plan
from ..accounting import store as accounting
from ..storage import depot, s3
from . import object_store, records, visibility

S3_UPLOAD = resource_state.S3_UPLOAD
# An issued id stays claimable this long (the upload itself must start
# within the URL expiry; creating the resource may come later).
ISSUED_ID_TTL = 7 * 24 * 3600


class DirectUploadRefused(ValueError):
    """A client's direct upload cannot be accepted (one-line reason)."""


def issue_upload_urls(organization_id: str, file_size: int,
                      user_id: str | None) -> dict[str, Any]:
    """Presigned URLs for a client to upload a new resource's file."""
    client = s3.get_client()
    bucket = s3.bucket_for_circle(organization_id)
    s3.ensure_bucket(client, bucket)
    rid = new_resource_id()
    part_sizes = transfer_plan.client_parts(
        file_size, dcor_config.upload_max_part_size())
    urls = s3.presigned_upload(client, bucket, naming.staging_key(rid),
                               part_sizes, dcor_config.upload_url_expiry())
    table = db.issued_upload_table
    model.Session.execute(table.insert().values(
        resource_id=rid, organization_id=organization_id, size=file_size,
        user_id=user_id, part_size=part_sizes[0],
        part_count=len(part_sizes), issued_at=datetime.datetime.utcnow()))
    model.Session.commit()
    return {**urls, "resource_id": rid,
            "expires_in": dcor_config.upload_url_expiry()}


def new_resource_id() -> str:
    """A fresh resource id that no resource has."""
    while True:
        rid = str(uuid.uuid4())
        if model.Session.get(model.Resource, rid) is None:
            return rid


def issued_upload(rid: str) -> dict[str, Any] | None:
    """The record of an issued id, unless it is older than ISSUED_ID_TTL
    (read in the caller's transaction)."""
    table = db.issued_upload_table
    oldest = datetime.datetime.utcnow() - \
        datetime.timedelta(seconds=ISSUED_ID_TTL)
    row = model.Session.execute(sa.select(table).where(
        table.c.resource_id == rid, table.c.issued_at >= oldest)).first()
    if row is None:
        return None
    return {"circle": row.organization_id, "size": row.size,
            "user": row.user_id, "parts": row.part_size,
            "count": row.part_count, "multipart_api": bool(row.upload_id),
            "client_sha256": row.client_sha256}


def forget_expired_issues() -> int:
    """Remove the records of ids issued more than ISSUED_ID_TTL ago."""
    table = db.issued_upload_table
    oldest = datetime.datetime.utcnow() - \
        datetime.timedelta(seconds=ISSUED_ID_TTL)
    with model.meta.engine.begin() as connection:
        return connection.execute(table.delete().where(
            table.c.issued_at < oldest)).rowcount


def is_direct_upload_claim(resource: dict[str, Any]) -> bool:
    """Our marker (url_type s3_upload) or DCOR-Aid's (s3_available: true
    and no url_type) on a resource that is being created."""
    return resource.get("url_type") == S3_UPLOAD or (
        not resource.get("url_type")
        and tk.asbool(resource.get("s3_available")))


def accept_direct_upload(rid: str, owner_org: str) -> dict[str, Any]:
    """Check a client's upload for a new resource and copy it from staging
    to the resource's key. Returns the resource fields the site sets, or
    raises DirectUploadRefused."""
    record = issued_upload(rid)
    if record is None:
        raise DirectUploadRefused(
            f"resource id {rid} was not issued by resource_upload_s3_urls "
            "or resource_upload_multipart_create (or was issued more than "
            "7 days ago)")
    if record["circle"] != owner_org:
        raise DirectUploadRefused(
            f"resource id {rid} was issued for an upload to another circle")
    client = s3.get_client()
    bucket = s3.bucket_for_circle(owner_org)
    key = naming.object_key("resource", rid)
    staged = s3.object_head(client, bucket, naming.staging_key(rid))
    if staged is None:
        raise DirectUploadRefused(
            f"no object was uploaded for resource {rid}")
    if staged["ContentLength"] != record["size"]:
        raise DirectUploadRefused(
            f"the upload of resource {rid} has {staged['ContentLength']} "
            f"bytes, {record['size']} were announced")
    etag = staged["ETag"].strip('"')
    final = s3.object_head(client, bucket, key)
    if final is None or final["ETag"].strip('"') != etag:
        # the layout the client was given keeps the ETag it computed
        first, count = record["parts"], record["count"]
        parts = [first] * (count - 1) + [record["size"] - first * (count - 1)]
        # a multipart upload of one part (ETag ending in -1) is copied as
        # one, so that the copy keeps the ETag the client computed
        copied = s3.copy_object(client, bucket, naming.staging_key(rid),
                                bucket, key, parts, multipart="-" in etag)
        if copied != etag:
            raise DirectUploadRefused(
                f"the copy of resource {rid} has ETag {copied}, the upload "
                f"{etag}")
    # the staging upload stays until the backup has verified the copy
    accounting.record_object(bucket, naming.staging_key(rid), record["size"])
    accounting.record_object(bucket, key, record["size"])
    return {"url_type": S3_UPLOAD, "s3_available": True,
            "size": record["size"], "etag": etag,
            "s3_url": naming.object_url(dcor_config.s3_endpoint_url(),
                                        bucket, key)}


def backup_object_to_depot(resource_id: str) -> str:
    """Copy a client's object into the user depot, verified, symlink it at
    CKAN's path, set sha256 and remove the staging upload. Returns "done",
    "copied" or "skipped" (not a direct upload)."""
    resource = records.show_resource(resource_id)
    if resource.get("url_type") != S3_UPLOAD:
        return "skipped"  # e.g. the owner uploaded a file in the meantime
    dataset = records.show_dataset(resource["package_id"])
    target = records.user_depot_path(resource, dataset)
    link = records.ckan_path(resource_id)
    client = s3.get_client()
    bucket, key = visibility.recorded_location(resource) or \
        object_store.object_location(resource, dataset)
    how = "done"
    if not (os.path.islink(link) and os.path.isfile(target)
            and resource.get("sha256")):
        head = s3.object_head(client, bucket, key)
        if head is None:
            raise FileNotFoundError(f"no object s3://{bucket}/{key}")
        if os.path.isfile(target):
            # an earlier run placed it; it was verified before its rename
            info = depot.file_info(target, crc32=True)
            if info.size != head["ContentLength"]:
                raise depot.DepotError(
                    f"{target} has {info.size} bytes, the object "
                    f"{head['ContentLength']}")
        else:
            depot.remove_stale_temps(target)
            record = issued_upload(resource_id)
            temp, got = s3.download_to_temp(
                client, bucket, key, target,
                (record["parts"],) if record else ())
            info = depot.place_verified(temp, depot.FileInfo(
                temp, got.size, got.sha256, got.crc32), target)
            how = "copied"
        _refuse_foreign_file(link, target)
        depot.replace_with_symlink(link, target)
        tags = s3.object_tags(client, bucket, key)
        if tags.get(s3.SHA256_TAG, info.sha256) != info.sha256:
            raise depot.DepotError(
                f"s3://{bucket}/{key} is tagged sha256 "
                f"{tags[s3.SHA256_TAG]}, its bytes have {info.sha256}")
        visibility.tag_object(dataset["id"], resource_id, bucket, key,
                              sha256=info.sha256)
        records.save_site_fields(resource, {
            "sha256": info.sha256, "size": info.size, "crc32": info.crc32,
            **client_verification(resource_id, info.sha256)})
    else:
        visibility.tag_object(dataset["id"], resource_id, bucket, key)
    # the accepted copy is verified: the client's staging upload can go
    s3.delete_object(client, bucket, naming.staging_key(resource_id))
    accounting.forget_object(bucket, naming.staging_key(resource_id))
    return how


def client_verification(rid: str, sha256: str) -> dict[str, str]:
    """The resource's `upload_verification` field: "verified" where the
    sha256 a client computed of its file equals the one the site computed
    of the object, "failed" where it differs; none where the client gave
    none (the client's value is never trusted, only compared)."""
    record = issued_upload(rid)
    claimed = record and record["client_sha256"]
    if not claimed:
        return {}
    return {resource_state.UPLOAD_VERIFICATION:
            "verified" if claimed == sha256 else "failed"}


def _refuse_foreign_file(link: str, target: str) -> None:
    """CKAN's path may hold a regular file that this backup did not write
    (an owner's upload). It is replaced only if it is the same file or has
    the same bytes as the verified depot copy."""
    if os.path.lexists(link) and not os.path.islink(link):
        if not os.path.isfile(link) or not depot.same_file_bytes(link,
                                                                 target):
            raise depot.DepotError(
                f"refusing to replace {link}: it holds other bytes than the "
                f"backup {target}")
