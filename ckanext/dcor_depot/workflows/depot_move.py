"""The depot move: an uploaded file goes into the user depot and a symlink
stays where CKAN expects it (see storage.depot.move_into_depot)."""
from __future__ import annotations

from ..storage import depot
from . import records


def move_resource_to_depot(resource_id: str) -> str:
    """Returns what was done ("linked", "copied", "symlinked", "done"), or
    "skipped" for resources that are not uploads."""
    resource = records.show_resource(resource_id)
    if resource.get("url_type") != "upload":
        return "skipped"
    dataset = records.show_dataset(resource["package_id"])
    return depot.move_into_depot(records.ckan_path(resource_id),
                                 records.user_depot_path(resource, dataset))
