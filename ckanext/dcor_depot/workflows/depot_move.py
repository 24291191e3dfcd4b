"""The depot move: an uploaded file goes into the user depot and a symlink
stays where CKAN expects it (see storage.depot.move_into_depot)."""
from __future__ import annotations

from .. import audit
from ..audit import rules as audit_rules
from ..storage import depot
from . import records


def move_resource_to_depot(resource_id: str) -> str:
    """Returns what was done ("linked", "copied", "symlinked", "done"), or
    "skipped" for resources that are not uploads."""
    resource = records.show_resource(resource_id)
    if resource.get("url_type") != "upload":
        return "skipped"
    dataset = records.show_dataset(resource["package_id"])
    target = records.user_depot_path(resource, dataset)
    how = depot.move_into_depot(records.ckan_path(resource_id), target)
    if how != "done":
        audit.record(audit_rules.DEPOT_MOVE, circle_id=dataset["owner_org"],
                     package_id=dataset["id"], resource_id=resource_id,
                     size=resource.get("size"),
                     detail={"path": target, "how": how})
    return how
