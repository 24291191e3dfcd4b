"""Who may see and decide a circle's access requests: its admins (and
sysadmins, whom CKAN lets through before these functions). Asking is a
download-list action: download_list_auth."""
from __future__ import annotations

import ckan.plugins.toolkit as tk
from ckan import authz

from ..access_requests import store


def _circle_admin(context, circle_id) -> dict:
    if authz.users_role_for_group_or_org(circle_id,
                                         context.get("user")) == "admin":
        return {"success": True}
    return {"success": False,
            "msg": "only the circle's admins see and decide its access "
                   "requests"}


def circle_access_request_list(context, data_dict):
    """The circle's admins (``id``: the circle) may list its requests."""
    return _circle_admin(context, (data_dict or {}).get("id"))


def circle_access_request_decide(context, data_dict):
    """The admins of the request's circle (``id``: the request) may decide
    it; an unknown request is not found."""
    request = store.get((data_dict or {}).get("id") or "")
    if request is None:
        raise tk.ObjectNotFound("no such access request")
    return _circle_admin(context, request["organization_id"])


def auth_functions() -> dict:
    return {"circle_access_request_list": circle_access_request_list,
            "circle_access_request_decide": circle_access_request_decide}
