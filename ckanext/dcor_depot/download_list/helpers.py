"""Template helpers of the download list, the dataset page's downloads and
the resource page's storage panel. Each shows only what the viewer may
read: the pages that call them are shown only to readers."""
from __future__ import annotations

from typing import Any

import flask

import ckan.plugins.toolkit as tk

from .. import config as dcor_config
from .. import resource_state
from ..downloads import manifests
from ..workflows import records
from . import rules, store


def _user_id() -> str | None:
    user = tk.current_user
    if not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "id", None)


def dcor_download_list_ids() -> set[str]:
    """Ids on the viewer's list (asked once per request)."""
    user_id = _user_id()
    if user_id is None:
        return set()
    if not hasattr(flask.g, "dcor_download_list_ids"):
        flask.g.dcor_download_list_ids = {
            rid for rid, _, _ in store.entries(user_id)}
    return flask.g.dcor_download_list_ids


def dcor_download_list_count() -> int | None:
    """The count for the menu; None for anonymous visitors."""
    if _user_id() is None:
        return None
    return len(dcor_download_list_ids())


def dcor_human_bytes(size: Any) -> str:
    return rules.human_bytes(int(size or 0))


def dcor_dataset_downloads(pkg: dict[str, Any]) -> dict[str, Any]:
    """What the dataset page's download box shows."""
    stored = manifests.stored_resources(pkg)
    total = sum(resource.get("size") or 0 for resource in stored)
    max_files = dcor_config.archive_max_files()
    max_bytes = dcor_config.archive_max_bytes()
    over = len(stored) > max_files or bool(max_bytes) and total > max_bytes
    on_list = dcor_download_list_ids()
    return {"count": len(stored), "total_bytes": total,
            "total": rules.human_bytes(total),
            "over_limit": over,
            "limit": f"{max_files} files" + (
                f" or {rules.human_bytes(max_bytes)}" if max_bytes else ""),
            "on_list": sum(1 for r in stored if r["id"] in on_list)}


def dcor_storage_panel(res: dict[str, Any], pkg: dict[str, Any]
                       ) -> dict[str, Any] | None:
    """Where a stored resource's bytes are, as the resource page shows it;
    None for links."""
    if res.get("url_type") not in resource_state.STORED_URL_TYPES:
        return None
    try:
        pending = bool(records.steps_needed(res))
        local = records.local_facts(res["id"])
    except ValueError:  # an id that names no file
        pending, local = False, resource_state.LocalFacts(False, False)
    sha256 = res.get("sha256") or None
    return {"size": res.get("size"),
            "size_text": rules.human_bytes(res["size"])
            if res.get("size") is not None else None,
            "sha256": sha256,
            "in_object_store": resource_state.in_object_store(res),
            "local_copy": bool(local.is_symlink and sha256),
            "pending": pending,
            "public": resource_state.dataset_is_public(pkg),
            "upload_verification":
                res.get(resource_state.UPLOAD_VERIFICATION),
            "on_list": res["id"] in dcor_download_list_ids()}


def helpers() -> dict:
    return {"dcor_download_list_ids": dcor_download_list_ids,
            "dcor_download_list_count": dcor_download_list_count,
            "dcor_human_bytes": dcor_human_bytes,
            "dcor_dataset_downloads": dcor_dataset_downloads,
            "dcor_storage_panel": dcor_storage_panel}
