"""Template helper of the audit trail: a resource's last events, for its
editors (the storage panel of the resource page)."""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk

from . import store

PANEL_EVENTS = 10


def dcor_audit_events(res: dict[str, Any], pkg: dict[str, Any]
                      ) -> list[dict[str, Any]] | None:
    """The resource's last events, newest first; None for viewers who may
    not edit its dataset."""
    user = tk.current_user
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        tk.check_access("package_update", {"user": user.name},
                        {"id": pkg["id"]})
    except tk.NotAuthorized:
        return None
    return store.resource_events(res["id"], PANEL_EVENTS)


def helpers() -> dict:
    return {"dcor_audit_events": dcor_audit_events}
