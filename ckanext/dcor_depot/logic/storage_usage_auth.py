"""Who may read storage figures: a circle's members (and sysadmins, whom
CKAN lets through before these run) see their circle's; only sysadmins
see the whole site's."""
from __future__ import annotations

from ckan import authz, model


def circle_storage_show(context, data_dict):
    """Members of the circle, of any capacity."""
    circle = model.Group.get((data_dict or {}).get("id") or "")
    user = context.get("user") or ""
    if circle is not None and circle.is_organization and \
            authz.has_user_permission_for_group_or_org(circle.id, user,
                                                       "read"):
        return {"success": True}
    return {"success": False,
            "msg": "only members of the circle see its storage"}


def site_storage_show(context, data_dict):
    """Sysadmins only."""
    return {"success": False, "msg": "only sysadmins see the site's storage"}


def circle_quota_update(context, data_dict):
    """Sysadmins only."""
    return {"success": False, "msg": "only sysadmins set quotas"}


def auth_functions() -> dict:
    return {"circle_storage_show": circle_storage_show,
            "site_storage_show": site_storage_show,
            "circle_quota_update": circle_quota_update}
