"""Who may start a multipart upload (whoever may add resources to the
dataset) and sign, list, complete or abort one (a signed-in user; the
action then lets only the upload's creator through)."""
from __future__ import annotations

import ckan.plugins.toolkit as tk


def resource_upload_multipart_create(context, data_dict):
    """A signed-in user who may add resources to the dataset (CKAN's
    resource_create)."""
    if not context.get("auth_user_obj") and not context.get("user"):
        return {"success": False, "msg": "only a signed-in user can upload"}
    tk.check_access("resource_create", context,
                    {"package_id": data_dict.get("package_id")})
    return {"success": True}


def _signed_in(context, data_dict):
    """A signed-in user; the action checks that the upload is theirs."""
    if not context.get("auth_user_obj") and not context.get("user"):
        return {"success": False,
                "msg": "no unfinished upload of yours has this resource id"}
    return {"success": True}


def auth_functions() -> dict:
    """The auth functions this module registers (blanket factory)."""
    return {"resource_upload_multipart_create":
            resource_upload_multipart_create,
            "resource_upload_multipart_sign_part": _signed_in,
            "resource_upload_multipart_list_parts": _signed_in,
            "resource_upload_multipart_complete": _signed_in,
            "resource_upload_multipart_abort": _signed_in}
