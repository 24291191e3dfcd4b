"""A dataset moved to another circle takes its objects along.

Each bucket belongs to one circle, so the objects are copied into the new
circle's bucket inside the object store, verified, and only then is the
resource's `s3_url` switched and the old copies deleted. The old copies
lose their public tag before the switch, so no copy outside the current
location is ever left readable. A killed run converges when run again.
"""
from __future__ import annotations

import logging
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from .. import audit
from .. import config as dcor_config
from .. import naming, transfer_plan
from . import records
from ..accounting import store as accounting
from ..audit import rules as audit_rules
from ..storage import locks, s3
from . import visibility

log = logging.getLogger(__name__)
COPY_PART_LIMIT = 5 * 1024**3  # S3's limit for a single CopyObject


def copy_verified(client: Any, bucket: str, key: str, target_bucket: str,
                  sha256: str | None) -> None:
    """Copy bucket/key to target_bucket/key and verify the copy: same size
    and ETag, or (where S3 gives a copy another ETag) the same sha256 read
    from the copy."""
    head = s3.object_head(client, bucket, key)
    size = head["ContentLength"]
    parts = [size] if size <= COPY_PART_LIMIT else \
        transfer_plan.client_parts(size, 1024**3)
    etag = s3.copy_object(client, bucket, key, target_bucket, key, parts)
    copy = s3.object_head(client, target_bucket, key)
    accounting.record_object(target_bucket, key, copy["ContentLength"])
    if copy["ContentLength"] == size and etag == head["ETag"].strip('"'):
        return
    expected = sha256 or s3.object_sha256(client, bucket, key)
    actual = s3.object_sha256(client, target_bucket, key)
    if copy["ContentLength"] != size or actual != expected:
        raise RuntimeError(f"copy of s3://{bucket}/{key} to {target_bucket} "
                           f"does not verify (sha256 {actual}, expected "
                           f"{expected})")


def _save_s3_url(resource: dict[str, Any], dataset: dict[str, Any],
                 url: str) -> None:
    if resource["state"] == "active" and dataset["state"] != "deleted":
        tk.get_action("resource_patch")(records.system_context(),
                                        {"id": resource["id"], "s3_url": url})
        return
    # deleted resources cannot be patched through the API
    row = model.Session.get(model.Resource, resource["id"])
    row.extras = {**(row.extras or {}), "s3_url": url}
    model.repo.commit()


def move_objects_to_current_circle(dataset_id: str) -> int:
    """Move the objects of every resource of the dataset (deleted ones too)
    that still live in another circle's bucket. Returns how many resources
    were moved."""
    with locks.dataset_job_lock(dataset_id, "circle-move",
                                wait=dcor_config.job_timeout()) as held:
        dataset = visibility.dataset_row(dataset_id)
        if dataset is None or not dataset["owner_org"]:
            return 0
        client = s3.get_client()
        target = s3.bucket_for_circle(dataset["owner_org"])
        moved = 0
        for resource in visibility.resource_rows(dataset_id):
            recorded = visibility.recorded_location(resource)
            if recorded is None or recorded[0] == target:
                continue
            _move_resource(client, dataset, resource, recorded[0], target)
            moved += 1
            held.refresh()
        return moved


def _move_resource(client: Any, dataset: dict[str, Any],
                   resource: dict[str, Any], old: str, target: str) -> None:
    rid = resource["id"]
    s3.ensure_bucket(client, target)
    copied = []
    for artifact in naming.ARTIFACTS:
        key = naming.object_key(artifact, rid)
        if s3.object_head(client, old, key) is None:
            continue
        sha256 = (resource.get("extras") or {}).get("sha256") \
            if artifact == "resource" else None
        copy_verified(client, old, key, target, sha256)
        copied.append((key, sha256))
    for key, _ in copied:
        visibility.untag_now(dataset["id"], old, key, why="circle move")
    _save_s3_url(resource, dataset, naming.object_url(
        dcor_config.s3_endpoint_url(), target,
        naming.object_key("resource", rid)))
    for key, sha256 in copied:
        visibility.tag_object(dataset["id"], rid, target, key, sha256=sha256)
    for key, _ in copied:
        s3.delete_object(client, old, key)
        accounting.forget_object(old, key)
    if copied:
        audit.record(audit_rules.CIRCLE_MOVE, circle_id=dataset["owner_org"],
                     package_id=dataset["id"], resource_id=rid,
                     size=resource.get("size"),
                     detail={"from_bucket": old, "to_bucket": target,
                             "keys": [key for key, _ in copied]})
    log.info("resource %s moved from bucket %s to %s (%d objects)", rid,
             old, target, len(copied))
