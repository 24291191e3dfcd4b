"""Import of figshare articles as public datasets of the figshare circle."""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import ckan.plugins.toolkit as tk

from .. import config as dcor_config
from .. import naming, pipeline
from ..storage import depot
from . import metadata
from .client import FigshareClient


@dataclasses.dataclass
class ImportResult:
    doi: str
    dataset_name: str
    downloaded: int = 0
    skipped: int = 0


def ensure_circle() -> dict[str, Any]:
    context = pipeline.system_context()
    try:
        return tk.get_action("organization_show")(
            context, {"id": metadata.FIGSHARE_CIRCLE})
    except tk.ObjectNotFound:
        return tk.get_action("organization_create")(
            pipeline.system_context(),
            {"name": metadata.FIGSHARE_CIRCLE, "title": "figshare import"})


def _inside(folder: str, path: str) -> bool:
    folder = os.path.realpath(folder)
    return os.path.commonpath([folder, os.path.realpath(path)]) == folder


def import_doi(doi: str, client: FigshareClient,
               echo: Callable[[str], None] = print) -> ImportResult:
    article_id, version = metadata.parse_doi(doi)
    circle = ensure_circle()
    article = client.article(article_id, version)
    data = metadata.dataset_dict(doi, article, circle["id"])
    files = metadata.downloadable_files(article)
    result = ImportResult(doi, data["name"])
    try:
        dataset = pipeline.show_dataset(data["id"])
    except tk.ObjectNotFound:
        dataset = tk.get_action("package_create")(pipeline.system_context(),
                                                  data)
    existing = {r["id"]: r for r in dataset.get("resources", [])}
    figshare_root = os.path.join(dcor_config.depots_path(), "figshare")
    used_names: set[str] = set()
    for item in files:
        name = naming.safe_name(item["name"], "figshare file name")
        if name in used_names:
            name = naming.safe_name(f"{item['id']}_{name}")
        used_names.add(name)
        target = naming.figshare_depot_path(dcor_config.depots_path(),
                                            data["name"], name)
        if not _inside(figshare_root, target):
            raise metadata.BadFigshareInput(
                f"file name {item['name']!r} leaves the figshare depot")
        rid = metadata.resource_id(data["id"], item["id"])
        resource = existing.get(rid)
        if os.path.isfile(target) and os.path.getsize(target) == \
                item["size"]:
            # placed by an earlier run after its md5 matched
            sha256 = resource["sha256"] if resource and \
                resource.get("sha256") else depot.sha256_of_file(
                    target).sha256
            result.skipped += 1
        else:
            echo(f"{doi}: downloading {name} ({item['size']} bytes)")
            sha256 = client.download(item["download_url"], target,
                                     item["size"], item["md5"]).sha256
            result.downloaded += 1
        if resource is None:
            tk.get_action("resource_create")(pipeline.system_context(), {
                "id": rid, "package_id": data["id"], "name": name,
                "url": name, "url_type": "upload", "size": item["size"],
                "sha256": sha256, "md5": item["md5"]})
        link = pipeline.ckan_path(rid)
        if not (os.path.islink(link) and os.path.realpath(link) ==
                os.path.realpath(target)):
            depot.replace_with_symlink(link, target)
        if dcor_config.s3_enabled():
            pipeline.store_resource_in_object_store(rid)
    if pipeline.show_dataset(data["id"])["state"] != "active":
        tk.get_action("package_patch")(pipeline.system_context(),
                                       {"id": data["id"], "state": "active"})
    if dcor_config.s3_enabled():
        pipeline.apply_dataset_visibility(data["id"])
    return result
