"""The S3 upload: a resource's local file goes into its circle's bucket,
verified, tagged for the dataset's visibility as it is now, and the
resource gets the fields of its object."""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

from .. import audit
from .. import config as dcor_config
from .. import naming, resource_state
from ..accounting import store as accounting
from ..audit import rules as audit_rules
from ..storage import s3
from . import records, visibility


@dataclasses.dataclass(frozen=True)
class ObjectStoreResult:
    dataset_id: str
    stored: s3.StoredObject
    public: bool
    fields_changed: bool


def object_location(resource: dict[str, Any], dataset: dict[str, Any],
                    artifact: str = "resource") -> tuple[str, str]:
    """Where the circle keeps an artifact of the resource."""
    return (s3.bucket_for_circle(dataset["owner_org"]),
            naming.object_key(artifact, resource["id"]))


def store_resource_in_object_store(
        resource_id: str,
        progress: Callable[[int], None] | None = None
) -> ObjectStoreResult:
    resource = records.show_resource(resource_id)
    dataset = records.show_dataset(resource["package_id"])
    path = records.ckan_path(resource_id)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"resource {resource_id} has no local file "
                                f"at {path}")
    client = s3.get_client()
    bucket, key = object_location(resource, dataset)
    s3.ensure_bucket(client, bucket)
    stored = s3.upload_file(
        client, path, bucket, key,
        part_size=dcor_config.s3_part_size(),
        max_concurrency=dcor_config.s3_max_concurrency(),
        known_sha256=resource.get("sha256"), progress=progress)
    accounting.record_object(bucket, key, stored.size)
    if stored.uploaded:
        audit.record(audit_rules.OBJECT_STORED,
                     circle_id=dataset["owner_org"], package_id=dataset["id"],
                     resource_id=resource_id, size=stored.size,
                     detail={"bucket": bucket, "key": key,
                             "sha256": stored.sha256})
    # the visibility read now, under the dataset's lock: the dataset may
    # have been made private while the upload ran
    visibility.tag_object(dataset["id"], resource_id, bucket, key,
                          sha256=stored.sha256)
    public = visibility.should_be_public(dataset["id"], resource_id,
                                         (bucket, key))
    changed = records.save_site_fields(resource, resource_state.s3_fields(
        naming.object_url(dcor_config.s3_endpoint_url(), bucket, key),
        stored.size, stored.sha256, stored.etag, stored.crc32))
    return ObjectStoreResult(dataset["id"], stored, public, changed)
