"""append-resource: a local file becomes a new resource of a dataset, with
a verified depot copy, a symlink at CKAN's path and an S3 object. The
resource id follows from dataset, file name and sha256, so a re-run adds
nothing."""
from __future__ import annotations

import dataclasses
import os
import uuid
from typing import Any, Callable

import ckan.plugins.toolkit as tk
from ckan import model

from .. import ckan_storage
from .. import config as dcor_config
from .. import naming
from ..accounting import quota
from ..storage import depot
from . import records
from .object_store import ObjectStoreResult, store_resource_in_object_store

APPEND_NAMESPACE = uuid.UUID("5d4a3b1e-2f0c-4c59-9d1e-0c6f0d2a7b31")


class BadInput(ValueError):
    """Input that names something that does not exist or cannot be used."""


@dataclasses.dataclass(frozen=True)
class AppendPlan:
    """Checked input of one append."""
    path: str
    size: int
    dataset: dict[str, Any]
    delete_source: bool


@dataclasses.dataclass(frozen=True)
class AppendResult:
    resource_id: str
    created: bool
    depot_path: str
    object_store: ObjectStoreResult | None
    source_deleted: bool


def appended_resource_id(dataset_id: str, file_name: str, sha256: str) -> str:
    return str(uuid.uuid5(APPEND_NAMESPACE,
                          f"{dataset_id}/{file_name}/{sha256}"))


def _inside(folder: str, path: str) -> bool:
    folder = os.path.realpath(folder)
    return os.path.commonpath([folder, os.path.realpath(path)]) == folder


def check_append_input(path: str, dataset_id: str,
                       delete_source: bool = False) -> AppendPlan:
    """Check the input of an append; raises BadInput naming the problem."""
    if delete_source:
        # a file the depot or CKAN keeps (a resource's only verified copy,
        # reached directly or through a symlink) is never a source to delete
        for key, folder in ((dcor_config.DEPOTS_PATH,
                             dcor_config.depots_path()),
                            ("ckan.storage_path",
                             dcor_config.storage_path()),
                            ("CKAN's resource storage",
                             ckan_storage.resource_files_dir())):
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
        dataset = records.show_dataset(dataset_id)
    except tk.ObjectNotFound:
        raise BadInput(f"no such dataset: {dataset_id}") from None
    if dataset.get("state") not in ("active", "draft"):
        raise BadInput(f"dataset {dataset_id} is {dataset.get('state')}")
    if not dataset.get("owner_org"):
        raise BadInput(f"dataset {dataset_id} belongs to no circle")
    return AppendPlan(path, os.path.getsize(path), dataset, delete_source)


def _existing_append(dataset: dict[str, Any], file_name: str,
                     path: str) -> dict[str, Any] | None:
    """The resource a previous run made from this file, if any (reads the
    file only when a candidate with the same name and size exists)."""
    size = os.stat(path).st_size
    candidates = [r for r in dataset.get("resources", [])
                  if r.get("name") == file_name and r.get("size") == size]
    if not candidates:
        return None
    rid = appended_resource_id(dataset["id"], file_name,
                               depot.file_info(path).sha256)
    return next((r for r in candidates if r["id"] == rid), None)


def _new_resource(plan: AppendPlan, file_name: str) -> dict[str, Any]:
    """Copy the file into the depot (verified), then create its resource."""
    dataset = plan.dataset
    stub = {"id": "00000000-0000-0000-0000-000000000000", "name": file_name}
    folder = os.path.dirname(records.user_depot_path(stub, dataset))
    temp, info = depot.copy_to_temp(plan.path, folder)
    rid = appended_resource_id(dataset["id"], file_name, info.sha256)
    target = records.user_depot_path({"id": rid, "name": file_name}, dataset)
    if os.path.isfile(target) and not os.path.islink(target):
        # left by an interrupted run: keep it if it holds these bytes
        existing = depot.file_info(target)
        depot.remove_file(temp)
        if (existing.size, existing.sha256) != (info.size, info.sha256):
            raise depot.DepotError(
                f"{target} exists with other bytes than {plan.path}")
    else:
        depot.place_verified(temp, info, target)
    try:
        return records.show_resource(rid)
    except tk.ObjectNotFound:
        return tk.get_action("resource_create")(records.system_context(), {
            "id": rid, "package_id": dataset["id"], "name": file_name,
            "url": file_name, "url_type": "upload", "size": info.size,
            "sha256": info.sha256, "crc32": info.crc32})


def append_file(plan: AppendPlan,
                progress: Callable[[int], None] | None = None
                ) -> AppendResult:
    file_name = naming.safe_name(os.path.basename(plan.path), "file name")
    resource = _existing_append(plan.dataset, file_name, plan.path)
    created = resource is None
    if resource is None:
        # before the first byte is copied; raises QuotaExceeded (or
        # QuotaUnavailable); a re-run of a done append adds no bytes
        quota.check_room(model.Group.get(plan.dataset["owner_org"]),
                         plan.size)
        resource = _new_resource(plan, file_name)
    rid = resource["id"]
    target = records.user_depot_path(resource, plan.dataset)
    depot.move_into_depot(records.ckan_path(rid), target)
    stored = None
    if dcor_config.s3_enabled():
        stored = store_resource_in_object_store(rid, progress=progress)
    deleted = False
    if plan.delete_source:
        # only after the depot copy (verified when placed) and the S3 object
        # (verified by ETag) match the source's sha256
        resource = records.show_resource(rid)
        local = os.path.realpath(records.ckan_path(rid))
        verified = os.path.isfile(local) and \
            os.path.getsize(local) == resource.get("size") and \
            (stored is None or stored.stored.sha256 == resource.get("sha256"))
        if not verified:
            raise depot.DepotError(
                f"not deleting {plan.path}: copies of resource {rid} do not "
                "verify")
        deleted = depot.remove_file(plan.path)
    return AppendResult(rid, created, target, stored, deleted)
