"""A dataset's checksum manifest: every stored file with its path, size
and sha256 (djarchive's manifest), as the action, the .sha256 and .csv
routes, the archives and the client see it."""
from __future__ import annotations

import csv
import io
from typing import Any

import ckan.plugins.toolkit as tk

from .. import manifest, resource_state


def stored_resources(dataset: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources whose files the site stores (links are not)."""
    return [resource for resource in dataset.get("resources", [])
            if resource.get("url_type") in resource_state.STORED_URL_TYPES]


def download_url(dataset: dict[str, Any], resource: dict[str, Any],
                 name: str) -> str:
    return tk.url_for("dcor_depot_download.download", id=dataset["id"],
                      resource_id=resource["id"], filename=name,
                      _external=True)


def paths_by_id(dataset: dict[str, Any]) -> dict[str, str]:
    """The path of each stored resource (by id) in the dataset's manifest,
    decided over all of them: archives of any selection use these."""
    resources = stored_resources(dataset)
    return dict(zip((r["id"] for r in resources), manifest.download_paths(
        dataset["name"], [(r["id"], r.get("name") or "") for r in resources])))


def dataset_manifest(dataset: dict[str, Any]) -> dict[str, Any]:
    """The manifest of a dataset the caller may read (package_show)."""
    resources = stored_resources(dataset)
    paths = list(paths_by_id(dataset).values())
    files = [{"path": path, "size": resource.get("size"),
              "sha256": resource.get("sha256") or None,
              "resource_id": resource["id"],
              "url": download_url(dataset, resource,
                                  path.rsplit("/", 1)[1])}
             for path, resource in zip(paths, resources)]
    return {"dataset": dataset["name"],
            "complete": all(f["sha256"] for f in files),
            "files": files, "count": len(files),
            "total_bytes": sum(f["size"] or 0 for f in files)}


def as_sha256sum(result: dict[str, Any]) -> str:
    """The .sha256 form; an incomplete manifest says so in a comment."""
    pending = [f["path"] for f in result["files"] if not f["sha256"]]
    comment = None
    if pending:
        comment = (f"incomplete: {len(pending)} of {result['count']} files "
                   f"have no sha256 yet (still being processed): "
                   f"{', '.join(pending)}")
    return manifest.manifest_text(
        ((f["sha256"], f["path"]) for f in result["files"] if f["sha256"]),
        comment=comment)


def as_csv(result: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "size", "sha256", "resource_id", "url"])
    for f in result["files"]:
        writer.writerow([f["path"], f["size"], f["sha256"] or "",
                         f["resource_id"], f["url"]])
    return out.getvalue()
