"""Template helper of the circle page: the storage panel, for members of
the circle and sysadmins (whoever may call circle_storage_show)."""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk

from . import rules


def dcor_circle_storage(group_dict: dict[str, Any]) -> dict[str, Any] | None:
    """The panel's figures (from circle_storage_show), or None for a viewer
    who may not see them."""
    user = tk.current_user
    if not getattr(user, "is_authenticated", False):
        return None
    context = {"user": user.name, "auth_user_obj": user}
    try:
        figures = tk.get_action("circle_storage_show")(
            context, {"id": group_dict["id"]})
    except (tk.NotAuthorized, tk.ObjectNotFound):
        return None
    return rules.quota_panel(figures)


def helpers() -> dict:
    return {"dcor_circle_storage": dcor_circle_storage}
