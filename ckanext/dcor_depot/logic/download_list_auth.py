"""Who may use a download list: any logged-in user, on their own list
only. Anonymous callers get CKAN's 403 (these functions do not allow
anonymous access)."""
from __future__ import annotations

from ckan import model


def own_list_only(context, data_dict):
    """A `user` given in the call must be the caller (name or id)."""
    named = (data_dict or {}).get("user")
    if named in (None, ""):
        return {"success": True}
    caller = context.get("auth_user_obj")
    if not isinstance(caller, model.User):
        caller = model.User.get(context.get("user") or "")
    if caller is not None and named in (caller.id, caller.name):
        return {"success": True}
    return {"success": False,
            "msg": "a user sees and changes only their own download list"}


def auth_functions() -> dict:
    return {name: own_list_only for name in (
        "download_list_show", "download_list_add", "download_list_remove",
        "download_list_clear", "download_list_rename",
        "download_list_preview", "download_list_request_access")}
