"""Migration of block storage to the object store, one resource at a time.

Each artifact of a resource (its file, and the condensed and preview files
beside it) is put into the circle's bucket unless it is there. A local file
is deleted only once this run has verified the object's bytes against it
(uploaded now, or compared now) and, for the resource file, once the file
matches the sha256 recorded on the resource. An object is replaced only by
a local file that matches that recorded sha256.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

from .. import config as dcor_config
from .. import naming, resource_state
from . import records
from ..accounting import store as accounting
from ..storage import depot, s3
from . import visibility

ARTIFACT_SUFFIXES = {"resource": "", "condensed": "_condensed.rtdc",
                     "preview": "_preview.jpg"}


def local_artifacts(resource_id: str) -> dict[str, str]:
    """Artifact name -> local file, for the files that exist. Raises
    ValueError for an id that is not a canonical UUID."""
    base = records.ckan_path(resource_id)
    return {artifact: base + suffix
            for artifact, suffix in ARTIFACT_SUFFIXES.items()
            if os.path.isfile(base + suffix)}


@dataclasses.dataclass(frozen=True)
class Options:
    verify_existence: bool = False
    verify_checksum: bool = False
    delete_after_migration: bool = False
    dry_run: bool = False


class MigrationFailure(RuntimeError):
    """An artifact cannot be migrated without risking data."""


@dataclasses.dataclass(frozen=True)
class ArtifactResult:
    status: str  # "migrated", "replaced", "skipped" or "would migrate"
    sent: int
    sha256: str | None  # of the bytes in the object, if known
    size: int | None
    verified: bool  # this run checked the object's bytes against the file
    etag: str | None = None  # the object's, where this run saw it
    crc32: int | None = None  # of the local file, where this run read it


def _upload(client: Any, path: str, bucket: str, key: str,
            reference: str | None, replace: bool = False):
    stored = s3.upload_file(client, path, bucket, key,
                            part_size=dcor_config.s3_part_size(),
                            max_concurrency=dcor_config.s3_max_concurrency(),
                            known_sha256=reference, replace=replace)
    accounting.record_object(bucket, key, stored.size)
    return stored


def _check_reference(path: str, sha256: str, reference: str | None) -> None:
    if reference and sha256 != reference:
        raise MigrationFailure(
            f"local file {path} has sha256 {sha256}, the resource says "
            f"{reference}")


def migrate_artifact(client: Any, path: str, bucket: str, key: str,
                     reference: str | None, options: Options,
                     already_migrated: bool) -> ArtifactResult:
    """Put one local file into S3 unless it is there. S3 and file I/O only,
    safe in a thread. `reference` is the sha256 recorded on the resource
    (None for condensed and preview files, which have none)."""
    check_bytes = options.verify_checksum or options.delete_after_migration
    if already_migrated and not (options.verify_existence or check_bytes):
        return ArtifactResult("skipped", 0, reference, None, False)
    if check_bytes:
        # reads the local file once; downloads only with --verify-checksum
        # or when the ETags cannot be compared
        check = s3.compare_with_file(client, bucket, key, path,
                                     dcor_config.s3_part_size(),
                                     download=options.verify_checksum)
        if check is not None:
            _check_reference(path, check.local_sha256, reference)
            if check.matches:
                return ArtifactResult("skipped", 0, check.local_sha256,
                                      check.local_size, True, check.etag,
                                      check.crc32)
            if not options.verify_checksum:
                raise MigrationFailure(
                    f"s3://{bucket}/{key} does not hold the bytes of {path} "
                    f"(compared by {check.how}); nothing deleted")
            if not reference:
                raise MigrationFailure(
                    f"s3://{bucket}/{key} differs from {path} and no "
                    "recorded sha256 tells which is right: not replaced")
            if options.dry_run:
                return ArtifactResult("would migrate", 0, None, None, False)
            # the local file matches the recorded sha256: it is the good copy
            stored = _upload(client, path, bucket, key, reference,
                             replace=True)
            _check_reference(path, stored.sha256, reference)
            return ArtifactResult("replaced", stored.size, stored.sha256,
                                  stored.size, True, stored.etag,
                                  stored.crc32)
    elif already_migrated and s3.object_head(client, bucket, key):
        return ArtifactResult("skipped", 0, reference, None, False)
    if options.dry_run:
        return ArtifactResult("would migrate", 0, None, None, False)
    stored = _upload(client, path, bucket, key, reference)
    _check_reference(path, stored.sha256, reference)
    # an object that was already there counts as verified only through
    # compare_with_file above, never by its tags
    return ArtifactResult("migrated" if stored.uploaded else "skipped",
                          stored.size if stored.uploaded else 0,
                          stored.sha256, stored.size, stored.uploaded,
                          stored.etag, stored.crc32)


FAILURES = (MigrationFailure, s3.ObjectConflict, s3.UploadVerificationError,
            depot.DepotError, OSError)


@dataclasses.dataclass
class ResourceMigration:
    """What happened to one resource's artifacts."""
    resource: dict[str, Any]
    dataset: dict[str, Any]
    bucket: str
    artifacts: dict[str, str]
    options: Options
    results: dict[str, ArtifactResult] = dataclasses.field(
        default_factory=dict)
    failures: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def statuses(self) -> set[str]:
        return {result.status for result in self.results.values()}

    @property
    def sent(self) -> int:
        return sum(result.sent for result in self.results.values())

    @property
    def transferred(self) -> bool:
        return bool(self.statuses & {"migrated", "replaced", "would migrate"})

    def fields(self) -> dict[str, Any] | None:
        """The resource's S3 fields, if its file is in the object store."""
        result = self.results.get("resource")
        if self.options.dry_run or result is None or not result.sha256:
            return None
        key = naming.object_key("resource", self.resource["id"])
        size = result.size if result.size is not None else \
            os.path.getsize(self.artifacts["resource"])
        return resource_state.s3_fields(
            naming.object_url(dcor_config.s3_endpoint_url(), self.bucket,
                              key),
            size, result.sha256, result.etag, result.crc32)

    def deletable(self) -> list[str]:
        """Local files whose objects this run verified; nothing of a
        resource with a failure."""
        if not self.options.delete_after_migration or self.options.dry_run \
                or self.failures:
            return []
        return [self.artifacts[artifact]
                for artifact, result in self.results.items()
                if result.verified]


def migrate_resource(client: Any, resource: dict[str, Any],
                     dataset: dict[str, Any], artifacts: dict[str, str],
                     options: Options) -> ResourceMigration:
    """Migrate the artifacts of one resource; S3 and file I/O only, no CKAN
    calls, so it may run in a thread."""
    bucket = s3.bucket_for_circle(dataset["owner_org"])
    migration = ResourceMigration(resource, dataset, bucket, artifacts,
                                  options)
    done = bool(resource.get("s3_available") and resource.get("sha256")
                and resource.get("s3_url"))
    for artifact, path in artifacts.items():
        key = naming.object_key(artifact, resource["id"])
        reference = resource.get("sha256") if artifact == "resource" \
            else None
        try:
            result = migrate_artifact(client, path, bucket, key, reference,
                                      options, already_migrated=done)
        except FAILURES as exc:
            migration.failures[artifact] = str(exc)
            continue
        migration.results[artifact] = result
        # the sha256 tag and the visibility read now, under the dataset's
        # lock; objects of earlier runs that were not checked keep theirs
        if not options.dry_run and result.status != "would migrate" and \
                (result.status != "skipped" or not done or result.verified):
            visibility.tag_object(dataset["id"], resource["id"], bucket, key,
                                  sha256=result.sha256)
    return migration
