"""Template helper of the circle page: the open access requests, shown to
the circle's admins (and sysadmins) only."""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from . import rules


def _files(circle_id: str, resource_ids: list[str]) -> list[dict[str, Any]]:
    """The named files as the circle's admin may see them: a file whose
    dataset has left the circle (or is gone) shows without its name."""
    found = {resource.id: resource for resource in model.Session.query(
        model.Resource).filter(model.Resource.id.in_(resource_ids))}
    files = []
    for rid in resource_ids:
        resource = found.get(rid)
        dataset = resource.package if resource is not None else None
        if resource is None or resource.state != "active" or \
                dataset is None or dataset.state != "active" or \
                dataset.owner_org != circle_id:
            files.append({"resource_id": rid, "here": False})
            continue
        files.append({"resource_id": rid, "here": True,
                      "resource_name": resource.name or rid,
                      "dataset_name": dataset.name,
                      "dataset_title": dataset.title or dataset.name})
    return files


def dcor_circle_access_requests(group_dict: dict[str, Any]
                                ) -> list[dict[str, Any]] | None:
    """The circle's open requests with their files and requesters, or None
    for a viewer who is not one of its admins."""
    user = tk.current_user
    if not getattr(user, "is_authenticated", False):
        return None
    context = {"user": user.name, "auth_user_obj": user}
    try:
        requests = tk.get_action("circle_access_request_list")(
            context, {"id": group_dict["id"], "state": rules.OPEN})
    except (tk.NotAuthorized, tk.ObjectNotFound):
        return None
    users = {u.name: u for u in model.Session.query(model.User).filter(
        model.User.name.in_([r["user"] for r in requests]))}
    for request in requests:
        requester = users.get(request["user"])
        request["user_display_name"] = requester.display_name \
            if requester is not None else request["user"]
        request["files"] = _files(group_dict["id"], request["resource_ids"])
    return requests


def helpers() -> dict:
    return {"dcor_circle_access_requests": dcor_circle_access_requests,
            "dcor_access_request_max_text": lambda: rules.MAX_TEXT}
