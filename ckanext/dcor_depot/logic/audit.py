"""The action that reads the audit trail (audit/)."""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan import authz, model

from ..audit import rules, store

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
_TEXT_FILTERS = ("dataset", "resource", "actor", "action")


def _text(data_dict: dict[str, Any], name: str) -> str | None:
    value = data_dict.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise tk.ValidationError({name: ["must be a text of at most 200 "
                                         "characters"]})
    return value


def _limit(value: Any) -> int:
    if value in (None, ""):
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise tk.ValidationError({"limit": [
            f"must be a whole number from 1 to {MAX_LIMIT}"]})
    return limit


def _filters(data_dict: dict[str, Any]) -> dict[str, Any]:
    filters: dict[str, Any] = {name: _text(data_dict, name)
                               for name in _TEXT_FILTERS}
    circle = _text(data_dict, "circle")
    if circle is not None:
        group = model.Group.get(circle)
        if group is None or not group.is_organization:
            raise tk.ObjectNotFound(f"no such circle: {circle}")
        filters["circle"] = group.id
    if filters["dataset"] is not None:
        # a name works as well as an id
        package = model.Package.get(filters["dataset"])
        if package is not None:
            filters["dataset"] = package.id
    for name in ("since", "until"):
        if data_dict.get(name) not in (None, ""):
            try:
                filters[name] = rules.parse_time(data_dict[name], name)
            except ValueError as exc:
                raise tk.ValidationError({name: [str(exc)]})
    return filters


def _readable_circles(user: str) -> list[str] | None:
    """The circles whose rows the user may read; None: all (sysadmins)."""
    if authz.is_sysadmin(user):
        return None
    circles = tk.get_action("organization_list_for_user")(
        {"user": user, "ignore_auth": True}, {"permission": "admin"})
    return [circle["id"] for circle in circles]


@tk.side_effect_free
def storage_audit_list(context, data_dict) -> dict[str, Any]:
    """Events of the audit trail, newest first, a page at a time (keyset
    paging: pass the ``next`` of one answer as ``before`` of the next
    call). Changes nothing.

    Who may call it: sysadmins (every row) and the admins of a circle
    (only rows of the circles they administer); nobody else.

    :param circle: only events of this circle (id or name)
    :param dataset: only events of this dataset (id or name)
    :param resource: only events of this resource id
    :param actor: only events of this actor (a user id, ``job:<step>``
        or ``cli:<command>``)
    :param action: only events of this action (e.g. ``object.tagged``,
        ``grant.presigned_get``)
    :param since: only events at or after this ISO 8601 time (UTC)
    :param until: only events before this ISO 8601 time (UTC)
    :param limit: events per page, 1 to 1000 (default 100)
    :param before: the cursor of the page: ``next`` of the previous one
    :returns: ``{"events": [{"id", "at", "actor", "action",
        "organization_id", "package_id", "resource_id", "size",
        "outcome", "detail"}], "next": cursor of the next page or None}``
    :raises ValidationError: a filter, ``limit`` or ``before`` is not
        valid
    :raises ObjectNotFound: no circle has the given id or name
    :raises NotAuthorized: the caller is neither a sysadmin nor a circle
        admin, or asks for a circle he does not administer
    """
    data_dict = data_dict or {}
    tk.check_access("storage_audit_list", context, data_dict)
    filters = _filters(data_dict)
    limit = _limit(data_dict.get("limit"))
    try:
        before = rules.parse_cursor(data_dict.get("before"))
    except ValueError as exc:
        raise tk.ValidationError({"before": [str(exc)]})
    circles = _readable_circles(context.get("user") or "")
    if circles is not None:
        if filters.get("circle") and filters["circle"] not in circles:
            raise tk.NotAuthorized(
                "only the circle's admins read its audit trail")
        filters["circles"] = circles
    rows = store.page(filters, limit + 1, before)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"events": [store.as_json(row) for row in rows],
            "next": str(rows[-1]["id"]) if more else None}


def actions() -> dict:
    return {"storage_audit_list": storage_audit_list}
