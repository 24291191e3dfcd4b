"""Who may ask for direct upload URLs: whoever may create datasets in the
circle."""
from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from . import provided


def resource_upload_s3_urls(context, data_dict):
    # raises NotAuthorized for anyone who may not create datasets there
    tk.check_access("package_create", context,
                    {"owner_org": data_dict.get("organization_id")})
    return {"success": True}


def auth_functions() -> dict:
    """The auth functions this plugin registers (blanket factory)."""
    if provided.provided_by_another_plugin(
            p.IAuthFunctions, "get_auth_functions", "resource_upload_s3_urls"):
        return {}
    return {"resource_upload_s3_urls": resource_upload_s3_urls}
