"""API actions: direct-upload URLs, and chained CKAN actions that check
incoming resources, purge safely and follow the circles' bulk actions."""
from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan import model

from .. import config as dcor_config
from .. import db, jobs
from ..downloads import manifests
from ..workflows import direct_upload, visibility
from . import provided, resource_guard, schema


@tk.side_effect_free
def resource_upload_s3_urls(context, data_dict) -> dict[str, Any]:
    """Presigned URLs to upload a new resource's file straight to S3.

    Answers GET (as DCOR-Aid asks, with string parameters) and POST.

    :param organization_id: id or name of the circle
    :param file_size: size of the file in bytes, a positive integer
    :returns: ``{"upload_urls": [...], "complete_url": ..., "resource_id":
        ..., "part_size": ..., "expires_in": ...}``; ``complete_url`` is
        None for a single PUT. Every URL takes exactly its part's bytes.
        Then create the resource with that id and url_type ``s3_upload``.
    """
    data, errors = tk.navl_validate(data_dict, schema.resource_upload_s3_urls(),
                                    context)
    if errors:
        raise tk.ValidationError(errors)
    circle = model.Group.get(data["organization_id"])
    if circle is None or not circle.is_organization or circle.state != "active":
        raise tk.ObjectNotFound(
            f"no such circle: {data['organization_id']}")
    tk.check_access("resource_upload_s3_urls", context,
                    {"organization_id": circle.id})
    if not dcor_config.s3_enabled():
        raise tk.ValidationError({"organization_id": [
            "direct uploads need the object store, which is not configured"]})
    limit = _max_resource_bytes()
    if limit and data["file_size"] > limit:
        raise tk.ValidationError({"file_size": [
            f"{data['file_size']} bytes is more than this site's limit of "
            f"{limit} bytes (ckan.max_resource_size)"]})
    user = model.User.get(context.get("user") or "")
    return direct_upload.issue_upload_urls(circle.id, data["file_size"],
                                           user.id if user else None)


@tk.side_effect_free
def dataset_manifest(context, data_dict) -> dict[str, Any]:
    """A dataset's checksum manifest: every stored file with the path the
    archives and the client use (`{dataset_name}/{resource_name}`), its
    size, sha256 and download URL.

    :param id: id or name of the dataset
    :returns: ``{"dataset", "complete", "files": [{"path", "size",
        "sha256", "resource_id", "url"}], "count", "total_bytes"}``;
        ``complete`` is false while some file has no sha256 yet.
    """
    tk.check_access("dataset_manifest", context, data_dict)
    dataset = tk.get_action("package_show")(context, {
        "id": tk.get_or_bust(data_dict, "id")})
    return manifests.dataset_manifest(dataset)


def _max_resource_bytes() -> int:
    """ckan.max_resource_size (MB), the limit CKAN applies to uploads."""
    return int(tk.config.get("ckan.max_resource_size") or 0) * 1024**2


@tk.chained_action
def package_create(up_func, context, data_dict):
    # authorisation first: the checks below look at CKAN's files and S3,
    # and their answers must not reach someone who may not create this
    tk.check_access("package_create", context, data_dict)
    resource_guard.check_incoming_resources(
        context, data_dict, data_dict.get("owner_org"), None)
    return up_func(context, data_dict)


@tk.chained_action
def package_update(up_func, context, data_dict):
    tk.check_access("package_update", context, data_dict)
    package = model.Package.get(data_dict.get("id") or
                                data_dict.get("name") or "")
    owner_org = data_dict.get("owner_org") or (
        package.owner_org if package else None)
    resource_guard.check_incoming_resources(context, data_dict, owner_org,
                                            package)
    return up_func(context, data_dict)


@tk.chained_action
def dataset_purge(up_func, context, data_dict):
    """Purging calls no hooks: the objects lose their public tag and CKAN's
    symlinks go before the rows do."""
    package = model.Package.get(data_dict.get("id") or "")
    if package is not None:
        tk.check_access("dataset_purge", context, data_dict)
        visibility.before_purge(package.id)
    return up_func(context, data_dict)


def _bulk_update(up_func, context, data_dict, deleting: bool = False):
    result = up_func(context, data_dict)
    # CKAN 2.11 updates these rows by SQL without calling any hook
    packages = [package for package in map(model.Package.get,
                                           data_dict.get("datasets") or [])
                if package is not None]
    if deleting:
        for package in packages:
            if package.state == "deleted":
                db.record_deletion("dataset", package.id)
        model.repo.commit()
    for package in packages:
        jobs.enqueue_visibility_job(package.id)
    return result


@tk.chained_action
def bulk_update_private(up_func, context, data_dict):
    return _bulk_update(up_func, context, data_dict)


@tk.chained_action
def bulk_update_public(up_func, context, data_dict):
    return _bulk_update(up_func, context, data_dict)


@tk.chained_action
def bulk_update_delete(up_func, context, data_dict):
    return _bulk_update(up_func, context, data_dict, deleting=True)


def actions() -> dict:
    """The actions this plugin registers (blanket factory)."""
    ours = {"package_create": package_create,
            "package_update": package_update,
            "dataset_purge": dataset_purge,
            "bulk_update_private": bulk_update_private,
            "bulk_update_public": bulk_update_public,
            "bulk_update_delete": bulk_update_delete,
            "dataset_manifest": dataset_manifest}
    if not provided.provided_by_another_plugin(
            p.IActions, "get_actions", "resource_upload_s3_urls"):
        ours["resource_upload_s3_urls"] = resource_upload_s3_urls
    return ours
