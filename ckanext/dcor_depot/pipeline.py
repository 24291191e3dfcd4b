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
from . import naming, resource_state, transfer_plan
from .storage import depot, s3
from .workflows import visibility

log = logging.getLogger(__name__)


def system_context() -> dict[str, Any]:
    """Context for actions run on behalf of the depot (no request user)."""
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    # dcor_depot_internal: our own code may set the fields that clients
    # may not (sha256, s3_available, ...) and choose resource ids
    return {"ignore_auth": True, "user": site_user["name"],
            "is_background_job": True, "dcor_depot_internal": True}


def show_resource(resource_id: str) -> dict[str, Any]:
    return tk.get_action("resource_show")(system_context(),
                                          {"id": resource_id})


def show_dataset(dataset_id: str) -> dict[str, Any]:
    return tk.get_action("package_show")(system_context(),
                                         {"id": dataset_id})


dataset_is_public = resource_state.dataset_is_public


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
    dataset_id: str
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
    # the visibility read now, under the dataset's lock: the dataset may
    # have been made private while the upload ran
    visibility.tag_object(dataset["id"], resource_id, bucket, key,
                          sha256=stored.sha256)
    public = visibility.should_be_public(dataset["id"], resource_id,
                                         (bucket, key))
    fields = {
        "s3_available": True,
        "s3_url": naming.object_url(dcor_config.s3_endpoint_url(), bucket,
                                    key),
        "sha256": stored.sha256,
        "size": stored.size,
        "etag": stored.etag,
    }
    changed = any(resource.get(k) != v for k, v in fields.items())
    if changed:
        tk.get_action("resource_patch")(system_context(),
                                        {"id": resource_id, **fields})
    return ObjectStoreResult(dataset["id"], stored, public, changed)


def apply_dataset_visibility(dataset_id: str) -> int:
    """Tag the dataset's objects public exactly while it is public and
    active. Returns the number of objects whose tag changed."""
    return visibility.apply_dataset_visibility(dataset_id)


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
                and resource.get("s3_url") and resource.get("etag")):
            steps.append("s3")
    return steps


# Appending a local file to a dataset (the append-resource command)

APPEND_NAMESPACE = uuid.UUID("5d4a3b1e-2f0c-4c59-9d1e-0c6f0d2a7b31")


class BadInput(ValueError):
    """Input that names something that does not exist or cannot be used."""


def appended_resource_id(dataset_id: str, file_name: str, sha256: str) -> str:
    return str(uuid.uuid5(APPEND_NAMESPACE,
                          f"{dataset_id}/{file_name}/{sha256}"))


def _inside(folder: str, path: str) -> bool:
    folder = os.path.realpath(folder)
    return os.path.commonpath([folder, os.path.realpath(path)]) == folder


def check_append_input(path: str, dataset_id: str,
                       delete_source: bool = False) -> dict[str, Any]:
    """Validate append-resource input; returns the dataset."""
    if delete_source:
        # a file the depot or CKAN keeps (a resource's only verified copy,
        # reached directly or through a symlink) is never a source to delete
        for key, folder in ((dcor_config.DEPOTS_PATH,
                             dcor_config.depots_path()),
                            ("ckan.storage_path",
                             dcor_config.storage_path())):
            if folder and _inside(folder, path):
                raise BadInput(f"refusing --delete-source for {path}: it "
                               f"lies inside {key} ({folder})")
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
    dataset = check_append_input(path, dataset_id, delete_source)
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


# Direct uploads to S3: see workflows/direct_upload.py

S3_UPLOAD = "s3_upload"

