"""Who may read the audit trail: sysadmins (whom CKAN lets through before
this runs) and circle admins (the action narrows them to their circles)."""
from __future__ import annotations

import ckan.plugins.toolkit as tk


def storage_audit_list(context, data_dict):
    """Admins of at least one circle."""
    user = context.get("user") or ""
    if user:
        circles = tk.get_action("organization_list_for_user")(
            {"user": user, "ignore_auth": True}, {"permission": "admin"})
        if circles:
            return {"success": True}
    return {"success": False,
            "msg": "only sysadmins and circle admins read the audit trail"}


def auth_functions() -> dict:
    return {"storage_audit_list": storage_audit_list}
