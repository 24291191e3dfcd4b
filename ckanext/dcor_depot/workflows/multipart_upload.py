"""Multipart uploads that a client signs part by part (the browser's
uploader, and any client that wants to resume).

1. `start`: a multipart upload at the staging key of a fresh resource id,
   recorded in the issued uploads' table (which reserves its size in the
   circle's quota) with its layout, dataset, file name and last-modified
   time. `find_unfinished` finds it again for the same user and file.
2. `sign_part`: one short-lived PUT URL per part, signing the part's
   length and Content-MD5, made when the client is about to send it.
3. `complete`: the parts S3 holds are checked against the layout and the
   client's ETag, the upload is completed at the staging key, and the
   caller creates the resource, which direct_upload accepts as every
   direct upload (copy to the resource's key, backup job).
4. `abort`: the S3 upload and its record are removed.

An upload lives `multipart_upload_lifetime` seconds from its start; after
that only `ckan dcor-prune-stale-multipart-uploads` touches it.
"""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import sqlalchemy as sa
from ckan import model

from .. import config as dcor_config
from .. import db, naming, transfer_plan
from ..storage import s3
from . import direct_upload


class UploadRefused(ValueError):
    """The request cannot be done (one-line reason, about the parameter
    `field`); nothing changed."""

    def __init__(self, message: str, field: str = "resource_id") -> None:
        super().__init__(message)
        self.field = field


class NotYours(LookupError):
    """The caller has no unfinished upload with that resource id."""


@dataclasses.dataclass(frozen=True)
class Upload:
    resource_id: str
    circle: str
    package_id: str
    user_id: str
    name: str
    size: int
    last_modified: int | None
    part_size: int
    part_count: int
    upload_id: str
    issued_at: datetime.datetime

    @property
    def bucket(self) -> str:
        return s3.bucket_for_circle(self.circle)

    @property
    def key(self) -> str:
        return naming.staging_key(self.resource_id)

    def expires_in(self) -> int:
        """Seconds left of this upload's lifetime."""
        age = datetime.datetime.utcnow() - self.issued_at
        return max(0, dcor_config.multipart_upload_lifetime()
                   - int(age.total_seconds()))

    def summary(self) -> dict[str, Any]:
        """What resource_upload_multipart_create returns."""
        return {"resource_id": self.resource_id, "upload_id": self.upload_id,
                "part_size": self.part_size, "part_count": self.part_count,
                "expires_in": self.expires_in()}


TABLE = db.issued_upload_table


def _unfinished():
    """Rows of multipart uploads within their lifetime whose resource does
    not exist yet."""
    live_since = datetime.datetime.utcnow() - datetime.timedelta(
        seconds=dcor_config.multipart_upload_lifetime())
    created = sa.select(model.Resource.id).where(
        model.Resource.id == TABLE.c.resource_id).exists()
    return sa.select(TABLE).where(TABLE.c.upload_id.isnot(None),
                                  TABLE.c.issued_at >= live_since, ~created)


def _upload(row) -> Upload:
    return Upload(resource_id=row.resource_id, circle=row.organization_id,
                  package_id=row.package_id, user_id=row.user_id,
                  name=row.name, size=row.size,
                  last_modified=row.last_modified, part_size=row.part_size,
                  part_count=row.part_count, upload_id=row.upload_id,
                  issued_at=row.issued_at)


def find_unfinished(user_id: str, package_id: str, name: str, size: int,
                    last_modified: int | None) -> Upload | None:
    """The user's newest unfinished upload of the same file (name, size
    and last-modified time) to the dataset, if any."""
    row = model.Session.execute(_unfinished().where(
        TABLE.c.user_id == user_id, TABLE.c.package_id == package_id,
        TABLE.c.name == name, TABLE.c.size == size,
        TABLE.c.last_modified.is_(None) if last_modified is None
        else TABLE.c.last_modified == last_modified,
    ).order_by(TABLE.c.issued_at.desc())).first()
    return _upload(row) if row is not None else None


def start(circle: str, package_id: str, user_id: str, name: str, size: int,
          last_modified: int | None) -> Upload:
    """Start a multipart upload for a new resource id and record it
    (committed). The caller holds the circle's quota lock."""
    client = s3.get_client()
    bucket = s3.bucket_for_circle(circle)
    s3.ensure_bucket(client, bucket)
    rid = direct_upload.new_resource_id()
    part_size, count = transfer_plan.part_layout(
        size, dcor_config.multipart_part_size())
    # an upload started here but never recorded (a crash before the
    # commit) is aborted by dcor-prune-stale-multipart-uploads
    upload_id = s3.start_upload(client, bucket, naming.staging_key(rid))
    row = {"resource_id": rid, "organization_id": circle, "size": size,
           "user_id": user_id, "part_size": part_size, "part_count": count,
           "issued_at": datetime.datetime.utcnow(), "upload_id": upload_id,
           "package_id": package_id, "name": name,
           "last_modified": last_modified}
    model.Session.execute(TABLE.insert().values(**row))
    model.Session.commit()
    return Upload(resource_id=rid, circle=circle, package_id=package_id,
                  user_id=user_id, name=name, size=size,
                  last_modified=last_modified, part_size=part_size,
                  part_count=count, upload_id=upload_id,
                  issued_at=row["issued_at"])


def owned_upload(rid: str, user_id: str | None) -> Upload:
    """The caller's unfinished upload with that resource id; NotYours for
    anything else (someone else's, finished, expired or unknown), so that
    the answer tells a stranger nothing."""
    row = model.Session.execute(_unfinished().where(
        TABLE.c.resource_id == rid)).first()
    if row is None or not user_id or row.user_id != user_id:
        raise NotYours(rid)
    return _upload(row)


def check_part_number(upload: Upload, number: int,
                      field: str = "part_number") -> None:
    if not 1 <= number <= upload.part_count:
        raise UploadRefused(
            f"part {number} is outside 1..{upload.part_count}, the parts of "
            "this upload", field)


def sign_part(upload: Upload, number: int, content_md5: str
              ) -> dict[str, Any]:
    """A PUT URL for one part, with the headers to send."""
    check_part_number(upload, number)
    length = transfer_plan.part_length(upload.size, upload.part_size,
                                       number)
    expires = dcor_config.multipart_part_url_expiry()
    url = s3.presigned_part_url(s3.get_client(), upload.bucket, upload.key,
                                upload.upload_id, number, length,
                                content_md5, expires)
    return {"url": url, "method": "PUT",
            "headers": {"Content-MD5": content_md5},
            "content_length": length, "expires_in": expires}


def list_parts(upload: Upload) -> list[dict[str, Any]]:
    """The parts S3 holds: {part_number, etag, size}."""
    try:
        return s3.uploaded_parts(s3.get_client(), upload.bucket, upload.key,
                                 upload.upload_id)
    except s3.NoSuchUpload:
        raise UploadRefused(
            f"the upload of resource {upload.resource_id} is no longer "
            "open in the object store") from None


def dataset_gone(package_id: str) -> bool:
    """The dataset was deleted or purged."""
    package = model.Package.get(package_id)
    return package is None or package.state == "deleted"


def complete(upload: Upload, parts: list[dict[str, Any]], etag: str,
             sha256: str | None) -> None:
    """Check the parts and the client's ETag and complete the upload at
    the staging key. A dataset deleted in the meantime gets the upload
    aborted. Raises UploadRefused; then nothing changed (but the abort)."""
    if dataset_gone(upload.package_id):
        abort(upload)
        raise UploadRefused(
            f"dataset {upload.package_id} was deleted; the upload of "
            f"resource {upload.resource_id} is aborted")
    given = {part["part_number"]: part["etag"] for part in parts}
    for number in range(1, upload.part_count + 1):
        if number not in given:
            raise UploadRefused(f"part {number} is missing", "parts")
    for number in given:
        check_part_number(upload, number, "parts")
    client = s3.get_client()
    try:
        held = s3.uploaded_parts(client, upload.bucket, upload.key,
                                 upload.upload_id)
    except s3.NoSuchUpload:
        # completed by an earlier call that ended before the resource was
        # created: go on if the staging object is the client's
        staged = s3.object_head(client, upload.bucket, upload.key)
        if staged is None or staged["ETag"].strip('"') != etag:
            raise UploadRefused(
                f"the upload of resource {upload.resource_id} is no longer "
                "open in the object store") from None
        _record_client_sha256(upload, sha256)
        return
    by_number = {part["part_number"]: part for part in held}
    for number in range(1, upload.part_count + 1):
        part = by_number.get(number)
        if part is None:
            raise UploadRefused(f"part {number} was not uploaded (the "
                                "object store holds no such part)", "parts")
        if part["etag"] != given[number]:
            raise UploadRefused(f"part {number} has ETag {part['etag']} in "
                                f"the object store, not {given[number]}",
                                "parts")
        length = transfer_plan.part_length(upload.size, upload.part_size,
                                           number)
        if part["size"] != length:
            raise UploadRefused(f"part {number} has {part['size']} bytes, "
                                f"this upload's part {number} has {length}",
                                "parts")
    held = [by_number[n] for n in range(1, upload.part_count + 1)]
    expected = transfer_plan.etag_of_parts([part["etag"] for part in held])
    if expected != etag:
        raise UploadRefused(f"the parts in the object store give ETag "
                            f"{expected}, the client computed {etag}",
                            "etag")
    _record_client_sha256(upload, sha256)
    s3.complete_upload(client, upload.bucket, upload.key, upload.upload_id,
                       held)
    staged = s3.object_head(client, upload.bucket, upload.key)
    if staged is None or staged["ETag"].strip('"') != etag:
        raise UploadRefused(
            f"the completed upload of resource {upload.resource_id} has "
            f"ETag {staged and staged['ETag']}, the client computed {etag}",
            "etag")


def _record_client_sha256(upload: Upload, sha256: str | None) -> None:
    model.Session.execute(TABLE.update().where(
        TABLE.c.resource_id == upload.resource_id).values(
        client_sha256=sha256))
    model.Session.commit()


def abort(upload: Upload) -> None:
    """Abort the S3 upload, remove a staging object that a completed call
    left (its resource was never created), and forget the record, which
    frees the reservation. Committed."""
    client = s3.get_client()
    s3.abort_upload(client, upload.bucket, upload.key, upload.upload_id)
    if s3.object_head(client, upload.bucket, upload.key) is not None:
        s3.delete_object(client, upload.bucket, upload.key)
    model.Session.execute(TABLE.delete().where(
        TABLE.c.resource_id == upload.resource_id))
    model.Session.commit()


def in_flight_seconds() -> int:
    """How long after its start a multipart upload of this API may still
    receive bytes: its lifetime, plus the life of a part URL signed at its
    last moment."""
    return (dcor_config.multipart_upload_lifetime()
            + dcor_config.multipart_part_url_expiry())
