"""Pure rules about the state of a resource and its objects. No I/O here.

Callers pass plain dicts (a dataset or resource dict, or a database row
with the same keys) and get decisions back.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Any, Mapping

Location = tuple[str, str]  # (bucket, key)


def dataset_is_public(dataset: Mapping[str, Any] | None) -> bool:
    """Public and active: the only state in which objects may be public."""
    return bool(dataset) and not dataset.get("private") and \
        dataset.get("state") == "active"


def current_location(recorded: Location | None,
                     in_circle: Location) -> Location:
    """Where a resource's object lives now: where the resource says it is
    (`s3_url`), else where the dataset's circle keeps it. A dataset moved to
    another circle keeps its objects in the old bucket until they are
    copied and `s3_url` is switched."""
    return recorded or in_circle


def object_should_be_public(dataset: Mapping[str, Any] | None,
                            resource: Mapping[str, Any] | None,
                            location: Location,
                            current: Location | None) -> bool:
    """An object is public exactly while its dataset is public and active,
    its resource is active, and it is the resource's current copy (not a
    copy left in another circle's bucket, nor a staging upload)."""
    return dataset_is_public(dataset) and bool(resource) and \
        resource.get("state") == "active" and location == current


# Which steps a resource still needs, and the fields the site sets

UPLOAD = "upload"  # url_type of a file uploaded through CKAN
S3_UPLOAD = "s3_upload"  # url_type of a client's direct upload to S3
STORED_URL_TYPES = (UPLOAD, S3_UPLOAD)
# "verified" or "failed": the sha256 a client computed of its file,
# compared with the site's (set by the backup of a direct upload)
UPLOAD_VERIFICATION = "upload_verification"
SITE_FIELDS = ("s3_available", "s3_url", "sha256", "etag", "crc32",
               UPLOAD_VERIFICATION)


class Step(str, enum.Enum):
    """A step of a resource's journey; each has one job (jobs.py)."""
    DEPOT_MOVE = "depot"  # CKAN's file into the user depot, symlinked
    S3_UPLOAD = "s3"  # the local file into the circle's bucket
    BACKUP = "backup"  # a direct upload's object into the user depot
    CHECKSUMS = "checksums"  # sha256 and CRC-32 where no transfer gave them


@dataclasses.dataclass(frozen=True)
class LocalFacts:
    """What CKAN's path of a resource holds (read by the caller)."""
    is_symlink: bool
    exists: bool  # anything at all, a dangling symlink included


def in_object_store(resource: Mapping[str, Any]) -> bool:
    """The object is stored and every field about it is set."""
    return all(resource.get(field) for field in
               ("s3_available", "s3_url", "sha256", "etag"))


def deleted_locally(resource: Mapping[str, Any], local: LocalFacts) -> bool:
    """Migrated with --delete-after-migration: S3 holds the only copy."""
    return bool(resource.get("s3_available")) and not local.exists


def steps_needed(resource: Mapping[str, Any], local: LocalFacts,
                 s3_enabled: bool) -> list[Step]:
    """The steps a resource has not completed, in the order they run."""
    steps = []
    url_type = resource.get("url_type")
    if url_type == S3_UPLOAD and s3_enabled and not (
            local.is_symlink and resource.get("sha256")):
        steps.append(Step.BACKUP)
    if url_type == UPLOAD:
        if not local.is_symlink and not deleted_locally(resource, local):
            steps.append(Step.DEPOT_MOVE)
        if s3_enabled and not in_object_store(resource):
            steps.append(Step.S3_UPLOAD)
    # every transfer computes sha256 and CRC-32 as it reads; resources
    # stored before CRC-32 was kept, or without an object store, get them
    # from one more read (archives need the CRC-32 ahead of time)
    if url_type in STORED_URL_TYPES and not steps and (
            not resource.get("sha256") or resource.get("crc32") is None):
        steps.append(Step.CHECKSUMS)
    return steps


def may_have_steps(resource: Mapping[str, Any], s3_enabled: bool) -> bool:
    """From a resource dict alone (no look at the file): a stored file
    whose fields say some step is still to do. `steps_needed` decides."""
    url_type = resource.get("url_type")
    if url_type not in STORED_URL_TYPES:
        return False
    if not resource.get("sha256") or resource.get("crc32") is None:
        return True
    return url_type == UPLOAD and s3_enabled and not in_object_store(resource)


def s3_fields(object_url: str, size: int, sha256: str,
              etag: str | None, crc32: int | None = None) -> dict[str, Any]:
    """The fields a resource carries once its object is stored."""
    fields: dict[str, Any] = {"s3_available": True, "s3_url": object_url,
                              "size": size, "sha256": sha256}
    if etag:
        fields["etag"] = etag
    if crc32 is not None:
        fields["crc32"] = crc32
    return fields


def fields_to_change(resource: Mapping[str, Any],
                     fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields whose value differs from the resource's."""
    return {key: value for key, value in fields.items()
            if resource.get(key) != value}
