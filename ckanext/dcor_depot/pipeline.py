"""What happens to a resource's bytes, step by step.

One code path for the jobs, the CLI and the API: each function takes ids,
re-reads the current state from CKAN and is safe to run again.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from typing import Any, Callable

import ckan.plugins.toolkit as tk

from . import config as dcor_config
from . import naming, transfer_plan
from .storage import depot, s3

log = logging.getLogger(__name__)


def system_context() -> dict[str, Any]:
    """Context for actions run on behalf of the depot (no request user)."""
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    return {"ignore_auth": True, "user": site_user["name"],
            "is_background_job": True}


def show_resource(resource_id: str) -> dict[str, Any]:
    return tk.get_action("resource_show")(system_context(),
                                          {"id": resource_id})


def show_dataset(dataset_id: str) -> dict[str, Any]:
    return tk.get_action("package_show")(system_context(),
                                         {"id": dataset_id})


def dataset_is_public(dataset: dict[str, Any]) -> bool:
    return not dataset.get("private") and dataset.get("state") == "active"


def ckan_path(resource_id: str) -> str:
    return naming.resource_path(dcor_config.storage_path(), resource_id)


def resource_file_name(resource: dict[str, Any]) -> str:
    url = resource.get("url") or ""
    return resource.get("name") or url.rsplit("/", 1)[-1] or "resource"


def user_depot_path(resource: dict[str, Any],
                    dataset: dict[str, Any]) -> str:
    creator = tk.get_action("user_show")(
        system_context(), {"id": dataset["creator_user_id"]})
    organization = dataset.get("organization") or {}
    if not organization.get("name"):
        raise ValueError(f"dataset {dataset['id']} belongs to no circle")
    return naming.user_depot_path(
        depots_path=dcor_config.depots_path(),
        users_depot_name=dcor_config.users_depot_name(),
        user_name=creator["name"], org_name=organization["name"],
        pid=dataset["id"], dataset_name=dataset["name"],
        rid=resource["id"], resource_name=resource_file_name(resource))


def move_resource_to_depot(resource_id: str) -> str:
    """Move an uploaded resource into the user depot and symlink it.

    Returns what was done (see depot.move_into_depot), or "skipped" for
    resources that are not uploads.
    """
    resource = show_resource(resource_id)
    if resource.get("url_type") != "upload":
        return "skipped"
    dataset = show_dataset(resource["package_id"])
    return depot.move_into_depot(ckan_path(resource_id),
                                 user_depot_path(resource, dataset))


@dataclasses.dataclass(frozen=True)
class ObjectStoreResult:
    stored: s3.StoredObject
    public: bool
    fields_changed: bool


def object_location(resource: dict[str, Any], dataset: dict[str, Any],
                    artifact: str = "resource") -> tuple[str, str]:
    return (s3.bucket_for_circle(dataset["owner_org"]),
            naming.object_key(artifact, resource["id"]))


def store_resource_in_object_store(
        resource_id: str,
        progress: Callable[[int], None] | None = None
) -> ObjectStoreResult:
    """Upload the local file of a resource to its circle's bucket, tag it
    for the dataset's visibility and set the resource's S3 fields."""
    resource = show_resource(resource_id)
    dataset = show_dataset(resource["package_id"])
    path = ckan_path(resource_id)
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
    public = dataset_is_public(dataset)
    s3.set_public(client, bucket, key, public)
    fields = {
        "s3_available": True,
        "s3_url": naming.object_url(dcor_config.s3_endpoint_url(), bucket,
                                    key),
        "sha256": stored.sha256,
        "size": stored.size,
    }
    changed = any(resource.get(k) != v for k, v in fields.items())
    if changed:
        tk.get_action("resource_patch")(system_context(),
                                        {"id": resource_id, **fields})
    return ObjectStoreResult(stored, public, changed)


def apply_dataset_visibility(dataset_id: str) -> int:
    """Tag the dataset's objects public exactly while it is public and
    active. Returns the number of objects whose tag changed."""
    dataset = show_dataset(dataset_id)
    public = dataset_is_public(dataset)
    client = s3.get_client()
    changed = 0
    for resource in dataset.get("resources", []):
        for artifact in naming.ARTIFACTS:
            bucket, key = object_location(resource, dataset, artifact)
            if s3.object_head(client, bucket, key) is None:
                continue
            changed += s3.set_public(client, bucket, key, public)
    return changed


def incomplete_steps(resource: dict[str, Any]) -> list[str]:
    """Which pipeline steps a resource still needs ("depot", "s3",
    "backup")."""
    steps = []
    if resource.get("url_type") == S3_UPLOAD and not (
            os.path.islink(ckan_path(resource["id"]))
            and resource.get("sha256")):
        steps.append("backup")
    if resource.get("url_type") == "upload":
        path = ckan_path(resource["id"])
        # migrated with --delete-after-migration: S3 holds the only copy
        deleted_locally = resource.get("s3_available") and \
            not os.path.lexists(path)
        if not os.path.islink(path) and not deleted_locally:
            steps.append("depot")
        if dcor_config.s3_enabled() and not (
                resource.get("s3_available") and resource.get("sha256")
                and resource.get("s3_url")):
            steps.append("s3")
    return steps


# Appending a local file to a dataset (the append-resource command)

APPEND_NAMESPACE = uuid.UUID("5d4a3b1e-2f0c-4c59-9d1e-0c6f0d2a7b31")


class BadInput(ValueError):
    """Input that names something that does not exist or cannot be used."""


def appended_resource_id(dataset_id: str, file_name: str, sha256: str) -> str:
    return str(uuid.uuid5(APPEND_NAMESPACE,
                          f"{dataset_id}/{file_name}/{sha256}"))


def check_append_input(path: str, dataset_id: str) -> dict[str, Any]:
    """Validate append-resource input; returns the dataset."""
    if not os.path.lexists(path):
        raise BadInput(f"no such file: {path}")
    if os.path.isdir(path):
        raise BadInput(f"is a directory, not a file: {path}")
    if not os.path.isfile(path):
        raise BadInput(f"not a regular file: {path}")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        dataset = show_dataset(dataset_id)
    except tk.ObjectNotFound:
        raise BadInput(f"no such dataset: {dataset_id}") from None
    if dataset.get("state") not in ("active", "draft"):
        raise BadInput(f"dataset {dataset_id} is {dataset.get('state')}")
    if not dataset.get("owner_org"):
        raise BadInput(f"dataset {dataset_id} belongs to no circle")
    return dataset


@dataclasses.dataclass(frozen=True)
class AppendResult:
    resource_id: str
    created: bool
    depot_path: str
    object_store: ObjectStoreResult | None
    source_deleted: bool


def _existing_append(dataset: dict[str, Any], file_name: str,
                     path: str) -> dict[str, Any] | None:
    """The resource a previous run made from this file, if any (reads the
    file only when a candidate with the same name and size exists)."""
    size = os.stat(path).st_size
    candidates = [r for r in dataset.get("resources", [])
                  if r.get("name") == file_name and r.get("size") == size]
    if not candidates:
        return None
    sha256 = depot.sha256_of_file(path).sha256
    rid = appended_resource_id(dataset["id"], file_name, sha256)
    return next((r for r in candidates if r["id"] == rid), None)


def append_file(path: str, dataset_id: str, delete_source: bool = False,
                progress: Callable[[int], None] | None = None
                ) -> AppendResult:
    """Add a local file as a new resource: verified depot copy, symlink at
    CKAN's path, S3 object. A re-run adds nothing."""
    dataset = check_append_input(path, dataset_id)
    file_name = naming.safe_name(os.path.basename(path), "file name")
    resource = _existing_append(dataset, file_name, path)
    created = resource is None
    if resource is None:
        stub = {"id": "00000000-0000-0000-0000-000000000000",
                "name": file_name}
        folder = os.path.dirname(user_depot_path(stub, dataset))
        temp, info = depot.copy_to_temp(path, folder)
        rid = appended_resource_id(dataset["id"], file_name, info.sha256)
        target = user_depot_path({"id": rid, "name": file_name}, dataset)
        if os.path.isfile(target) and not os.path.islink(target):
            # left by an interrupted run: keep it if it holds these bytes
            existing = depot.sha256_of_file(target)
            os.unlink(temp)
            if (existing.size, existing.sha256) != (info.size, info.sha256):
                raise depot.DepotError(
                    f"{target} exists with other bytes than {path}")
        else:
            depot.place_verified(temp, info, target)
        try:
            resource = show_resource(rid)
        except tk.ObjectNotFound:
            resource = tk.get_action("resource_create")(system_context(), {
                "id": rid, "package_id": dataset["id"], "name": file_name,
                "url": file_name, "url_type": "upload",
                "size": info.size, "sha256": info.sha256,
            })
    rid = resource["id"]
    target = user_depot_path(resource, dataset)
    depot.move_into_depot(ckan_path(rid), target)
    stored = None
    if dcor_config.s3_enabled():
        stored = store_resource_in_object_store(rid, progress=progress)
    deleted = False
    if delete_source:
        # only after the depot copy (verified when placed) and the S3 object
        # (verified by ETag) match the source's sha256
        resource = show_resource(rid)
        local = os.path.realpath(ckan_path(rid))
        verified = os.path.isfile(local) and \
            os.path.getsize(local) == resource.get("size") and \
            (stored is None or stored.stored.sha256 == resource.get("sha256"))
        if not verified:
            raise depot.DepotError(
                f"not deleting {path}: copies of resource {rid} do not verify")
        os.unlink(path)
        deleted = True
    return AppendResult(rid, created, target, stored, deleted)


# Direct uploads to S3 (url_type "s3_upload")

S3_UPLOAD = "s3_upload"
PRESIGNED_URL_EXPIRES = 24 * 3600


def presigned_upload_urls(organization_id: str, file_size: int
                          ) -> dict[str, Any]:
    """URLs for a client to upload a new resource's file straight to S3."""
    client = s3.get_client()
    bucket = s3.bucket_for_circle(organization_id)
    s3.ensure_bucket(client, bucket)
    from ckan import model
    while True:
        rid = str(uuid.uuid4())
        if model.Session.get(model.Resource, rid) is None:
            break
    part_size = transfer_plan.part_size_for(file_size,
                                            dcor_config.s3_part_size())
    urls = s3.presigned_upload(client, bucket,
                               naming.object_key("resource", rid), file_size,
                               part_size, PRESIGNED_URL_EXPIRES)
    return {**urls, "resource_id": rid}


def describe_s3_upload(resource: dict[str, Any], owner_org: str
                       ) -> dict[str, Any]:
    """Fields of a resource whose object a client uploaded, or raise
    tk.ValidationError when there is no such object."""
    rid = resource.get("id")
    try:
        naming.check_resource_id(rid)
    except ValueError:
        raise tk.ValidationError({"id": [
            f"a resource with url_type {S3_UPLOAD} needs the resource id "
            "from resource_upload_s3_urls"]}) from None
    client = s3.get_client()
    bucket = s3.bucket_for_circle(owner_org)
    key = naming.object_key("resource", rid)
    head = s3.object_head(client, bucket, key)
    if head is None:
        raise tk.ValidationError({"id": [
            f"no object was uploaded for resource {rid}"]})
    return {"s3_available": True, "size": head["ContentLength"],
            "s3_url": naming.object_url(dcor_config.s3_endpoint_url(),
                                        bucket, key)}


def backup_object_to_depot(resource_id: str) -> str:
    """Copy a client's S3 object into the user depot, verified, symlink it
    at CKAN's path and set sha256. Returns "done" or "copied"."""
    resource = show_resource(resource_id)
    dataset = show_dataset(resource["package_id"])
    target = user_depot_path(resource, dataset)
    link = ckan_path(resource_id)
    client = s3.get_client()
    bucket, key = object_location(resource, dataset)
    how = "done"
    if not (os.path.islink(link) and os.path.isfile(target)
            and resource.get("sha256")):
        head = s3.object_head(client, bucket, key)
        if head is None:
            raise FileNotFoundError(f"no object s3://{bucket}/{key}")
        if os.path.isfile(target):
            # an earlier run placed it; it was verified before its rename
            info = depot.sha256_of_file(target)
            if info.size != head["ContentLength"]:
                raise depot.DepotError(
                    f"{target} has {info.size} bytes, the object "
                    f"{head['ContentLength']}")
        else:
            depot.remove_stale_temps(target)
            part_size = transfer_plan.part_size_for(
                head["ContentLength"], dcor_config.s3_part_size())
            temp, info = s3.download_to_temp(client, bucket, key, target,
                                             part_size)
            info = depot.place_verified(temp, info, target)
            how = "copied"
        depot.replace_with_symlink(link, target)
        tags = s3.object_tags(client, bucket, key)
        if tags.get(s3.SHA256_TAG, info.sha256) != info.sha256:
            raise depot.DepotError(
                f"s3://{bucket}/{key} is tagged sha256 "
                f"{tags[s3.SHA256_TAG]}, its bytes have {info.sha256}")
        s3.put_sha256_tag(client, bucket, key, info.sha256)
        tk.get_action("resource_patch")(system_context(), {
            "id": resource_id, "sha256": info.sha256, "size": info.size})
    s3.set_public(client, bucket, key, dataset_is_public(dataset))
    return how

