"""Who may ask for direct upload URLs (whoever may create datasets in the
circle) and read a manifest (whoever may read the dataset)."""
from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from . import provided


def resource_upload_s3_urls(context, data_dict):
    """Whoever may create datasets in the circle (CKAN's package_create
    with that owner_org) may ask for upload URLs."""
    # raises NotAuthorized for anyone who may not create datasets there
    tk.check_access("package_create", context,
                    {"owner_org": data_dict.get("organization_id")})
    return {"success": True}


@tk.auth_allow_anonymous_access
def dataset_manifest(context, data_dict):
    """Whoever may read the dataset may read its manifest."""
    try:
        tk.check_access("package_show", context, data_dict)
    except tk.NotAuthorized:
        return {"success": False,
                "msg": "not authorized to read this dataset"}
    return {"success": True}


def auth_functions() -> dict:
    """The auth functions this plugin registers (blanket factory)."""
    ours = {"dataset_manifest": dataset_manifest}
    if not provided.provided_by_another_plugin(
            p.IAuthFunctions, "get_auth_functions", "resource_upload_s3_urls"):
        ours["resource_upload_s3_urls"] = resource_upload_s3_urls
    return ours
