"""API actions."""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from .. import config as dcor_config
from .. import pipeline
from . import schema


def resource_upload_s3_urls(context, data_dict) -> dict[str, Any]:
    """Presigned URLs to upload a new resource's file straight to S3.

    :param organization_id: id or name of the circle
    :param file_size: size of the file in bytes
    :returns: ``{"upload_urls": [...], "complete_url": ..., "resource_id":
        ..., "part_size": ...}``; ``complete_url`` is None for a single PUT.
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
    return pipeline.presigned_upload_urls(circle.id, data["file_size"])


def _check_s3_uploads(data_dict: dict[str, Any], owner_org: str | None):
    """Accept s3_upload resources only when their object exists."""
    for resource in data_dict.get("resources") or []:
        if resource.get("url_type") != pipeline.S3_UPLOAD:
            continue
        existing = model.Session.get(model.Resource, resource.get("id") or "")
        if existing is not None and existing.extras.get("s3_available"):
            continue
        circle = model.Group.get(owner_org) if owner_org else None
        if circle is None:
            raise tk.ValidationError({"owner_org": [
                "a dataset with s3_upload resources needs a circle"]})
        resource.update(pipeline.describe_s3_upload(resource, circle.id))


@tk.chained_action
def package_create(up_func, context, data_dict):
    if dcor_config.s3_enabled():
        _check_s3_uploads(data_dict, data_dict.get("owner_org"))
    return up_func(context, data_dict)


@tk.chained_action
def package_update(up_func, context, data_dict):
    if dcor_config.s3_enabled():
        owner_org = data_dict.get("owner_org")
        if not owner_org:
            dataset = model.Package.get(data_dict.get("id") or
                                        data_dict.get("name") or "")
            owner_org = dataset.owner_org if dataset else None
        _check_s3_uploads(data_dict, owner_org)
    return up_func(context, data_dict)
