"""Import of figshare articles as public datasets of the figshare circle."""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import ckan.plugins.toolkit as tk
from ckan import model

from .. import config as dcor_config
from .. import naming
from ..accounting import quota
from ..workflows import object_store, records, visibility
from ..storage import depot
from . import metadata
from .client import FigshareClient, FigshareError, existing_file


@dataclasses.dataclass
class ImportResult:
    doi: str
    dataset_name: str
    downloaded: int = 0
    skipped: int = 0


class UnsafeCircleError(RuntimeError):
    """Someone who is not a sysadmin may change the figshare circle."""


# capacities that may change a circle's datasets
EDITING_CAPACITIES = ("admin", "editor")


def ensure_circle() -> dict[str, Any]:
    """The figshare circle, created if missing.

    An existing one in which a user who is not a sysadmin is admin or
    editor is refused: CKAN lets users create organizations, so anyone
    could have made one of this name and would receive, and could change,
    the imported datasets.
    """
    try:
        circle = tk.get_action("organization_show")(
            records.system_context(), {"id": metadata.FIGSHARE_CIRCLE,
                                        "include_users": False,
                                        "include_datasets": False})
    except tk.ObjectNotFound:
        # created by the site user, a sysadmin, its only admin
        return tk.get_action("organization_create")(
            records.system_context(),
            {"name": metadata.FIGSHARE_CIRCLE, "title": "figshare import"})
    for capacity in EDITING_CAPACITIES:
        members = tk.get_action("member_list")(
            records.system_context(),
            {"id": circle["id"], "object_type": "user",
             "capacity": capacity})
        for user_id, _, _ in members:
            user = tk.get_action("user_show")(records.system_context(),
                                              {"id": user_id})
            if not user.get("sysadmin"):
                raise UnsafeCircleError(
                    f"circle {metadata.FIGSHARE_CIRCLE} has the {capacity} "
                    f"{user['name']}, who is not a sysadmin; refusing to "
                    f"import into it")
    return circle


def _inside(folder: str, path: str) -> bool:
    folder = os.path.realpath(folder)
    return os.path.commonpath([folder, os.path.realpath(path)]) == folder


def file_targets(dataset_name: str,
                 files: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(name, depot path) of each file: unique names, the same on every
    run, all inside the figshare depot."""
    depots_path = dcor_config.depots_path()
    figshare_root = os.path.join(depots_path, "figshare")
    names = naming.unique_names([item["name"] for item in files],
                                [item["id"] for item in files])
    targets = []
    for item, name in zip(files, names):
        target = naming.figshare_depot_path(depots_path, dataset_name, name)
        if not _inside(figshare_root, target):
            raise metadata.BadFigshareInput(
                f"file name {item['name']!r} leaves the figshare depot")
        targets.append((name, target))
    return targets


def import_doi(doi: str, client: FigshareClient,
               echo: Callable[[str], None] = print) -> ImportResult:
    article_id, version = metadata.parse_doi(doi)
    circle = ensure_circle()
    article = client.article(article_id, version)
    data = metadata.dataset_dict(doi, article, circle["id"])
    files = metadata.downloadable_files(article)
    targets = file_targets(data["name"], files)
    result = ImportResult(doi, data["name"])
    try:
        dataset = records.show_dataset(data["id"])
    except tk.ObjectNotFound:
        dataset = None
    existing = {r["id"]: r for r in (dataset or {}).get("resources", [])}
    # the files that become new resources, checked against the circle's
    # quota before the dataset is made or a byte is downloaded
    new_bytes = sum(item["size"] for item in files if metadata.resource_id(
        data["id"], item["id"]) not in existing)
    if new_bytes:
        quota.check_room(model.Group.get(circle["id"]), new_bytes)
    if dataset is None:
        dataset = tk.get_action("package_create")(records.system_context(),
                                                  data)
    for item, (name, target) in zip(files, targets):
        rid = metadata.resource_id(data["id"], item["id"])
        resource = existing.get(rid)
        if os.path.lexists(target):
            # placed by an earlier run; kept only if it holds figshare's
            # bytes, never replaced
            got = existing_file(target, item["size"], item["md5"])
            sha256 = got.sha256
            if resource and resource.get("sha256") not in (None, "", sha256):
                raise FigshareError(
                    f"resource {rid} records sha256 {resource['sha256']}, "
                    f"but {target} holds {sha256}")
            result.skipped += 1
        else:
            echo(f"{doi}: downloading {name} ({item['size']} bytes)")
            got = client.download(item["download_url"], target,
                                  item["size"], item["md5"])
            sha256 = got.sha256
            result.downloaded += 1
        if resource is None:
            tk.get_action("resource_create")(records.system_context(), {
                "id": rid, "package_id": data["id"], "name": name,
                "url": name, "url_type": "upload", "size": item["size"],
                "sha256": sha256, "md5": item["md5"], "crc32": got.crc32})
        # the figshare depot is this resource's depot: the depot move's
        # code leaves the symlink at CKAN's path
        depot.move_into_depot(records.ckan_path(rid), target)
        if dcor_config.s3_enabled():
            object_store.store_resource_in_object_store(rid)
    if records.show_dataset(data["id"])["state"] != "active":
        tk.get_action("package_patch")(records.system_context(),
                                       {"id": data["id"], "state": "active"})
    if dcor_config.s3_enabled():
        visibility.apply_dataset_visibility(data["id"])
    return result
