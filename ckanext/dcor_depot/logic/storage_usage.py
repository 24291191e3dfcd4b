"""Actions of storage accounting: a circle's figures and the site's."""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ..accounting import figures, quota


@tk.side_effect_free
def circle_storage_show(context, data_dict) -> dict[str, Any]:
    """What a circle stores, from the database (kept current by the jobs,
    corrected by ``ckan dcor-depot-usage --reconcile``). Changes nothing.

    Who may call it: members of the circle (any capacity) and sysadmins.

    :param id: id or name of the circle
    :returns: ``{"id", "name", "used_bytes", "quota_bytes" (0: none),
        "reserved_bytes" (direct uploads issued, not yet accepted),
        "reserved_uploads", "by_artifact": {"resource"|"condensed"|
        "preview"|"staging": {"bytes", "files"}}, "datasets",
        "resources", "largest_datasets": [{"id", "name", "title", "bytes",
        "files"}] (the 10 largest), "as_of", "reconciled_at"}``
    :raises ValidationError: ``id`` is missing
    :raises ObjectNotFound: no circle has that id or name
    :raises NotAuthorized: the caller is not a member of the circle
    """
    name = (data_dict or {}).get("id")
    if not name or not isinstance(name, str):
        raise tk.ValidationError({"id": ["Missing value"]})
    circle = model.Group.get(name)
    if circle is None or not circle.is_organization:
        raise tk.ObjectNotFound(f"no such circle: {name}")
    tk.check_access("circle_storage_show", context, {"id": circle.id})
    return {"id": circle.id, "name": circle.name,
            **figures.circle_figures(circle.id)}


@tk.side_effect_free
def site_storage_show(context, data_dict) -> dict[str, Any]:
    """What every circle stores, with the site's totals. Changes nothing.

    Who may call it: sysadmins.

    Takes no parameters.

    :returns: ``{"circles": [the figures of circle_storage_show, with
        "id", "name", "state"], "totals": {"used_bytes",
        "reserved_bytes", "datasets", "resources", "by_artifact"},
        "as_of"}``
    :raises NotAuthorized: the caller is not a sysadmin
    """
    tk.check_access("site_storage_show", context, data_dict or {})
    return figures.site_figures()


def circle_quota_update(context, data_dict) -> dict[str, Any]:
    """Set a circle's own quota, which replaces the site's default
    (``ckanext.dcor_depot.circle_quota_bytes``) for it. A quota below what
    the circle holds refuses new files; nothing stored is removed.

    Who may call it: sysadmins.

    :param id: id or name of the circle
    :param quota_bytes: the quota in bytes, a whole number >= 0 (0: none)
    :returns: the circle's figures, as ``circle_storage_show``
    :raises ValidationError: a parameter is missing or malformed
    :raises ObjectNotFound: no circle has that id or name
    :raises NotAuthorized: the caller is not a sysadmin
    """
    data_dict = data_dict or {}
    tk.check_access("circle_quota_update", context, data_dict)
    name = data_dict.get("id")
    if not name or not isinstance(name, str):
        raise tk.ValidationError({"id": ["Missing value"]})
    size = data_dict.get("quota_bytes")
    if isinstance(size, str) and size.strip().isdigit():
        size = int(size)
    if isinstance(size, bool) or not isinstance(size, int) or \
            not 0 <= size < 2**63:
        raise tk.ValidationError({"quota_bytes": [
            "must be a whole number of bytes, 0 or more (0: no quota)"]})
    circle = model.Group.get(name)
    if circle is None or not circle.is_organization:
        raise tk.ObjectNotFound(f"no such circle: {name}")
    user = model.User.get(context.get("user") or "")
    quota.set_quota(circle.id, size, user.id if user else None)
    model.Session.commit()
    return {"id": circle.id, "name": circle.name,
            **figures.circle_figures(circle.id)}


def actions() -> dict:
    return {"circle_storage_show": circle_storage_show,
            "site_storage_show": site_storage_show,
            "circle_quota_update": circle_quota_update}
