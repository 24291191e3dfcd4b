"""Who may ask for direct upload URLs: whoever may create datasets in the
circle."""
from __future__ import annotations

import ckan.plugins.toolkit as tk


def resource_upload_s3_urls(context, data_dict):
    # raises NotAuthorized for anyone who may not create datasets there
    tk.check_access("package_create", context,
                    {"owner_org": data_dict.get("organization_id")})
    return {"success": True}
