"""Pure rules about the state of a resource and its objects. No I/O here.

Callers pass plain dicts (a dataset or resource dict, or a database row
with the same keys) and get decisions back.
"""
from __future__ import annotations

from typing import Any, Mapping

Location = tuple[str, str]  # (bucket, key)


def dataset_is_public(dataset: Mapping[str, Any] | None) -> bool:
    """Public and active: the only state in which objects may be public."""
    return bool(dataset) and not dataset.get("private") and \
        dataset.get("state") == "active"


def current_location(recorded: Location | None,
                     in_circle: Location) -> Location:
    """Where a resource's object lives now: where the resource says it is
    (`s3_url`), else where the dataset's circle keeps it. A dataset moved to
    another circle keeps its objects in the old bucket until they are
    copied and `s3_url` is switched."""
    return recorded or in_circle


def object_should_be_public(dataset: Mapping[str, Any] | None,
                            resource: Mapping[str, Any] | None,
                            location: Location,
                            current: Location | None) -> bool:
    """An object is public exactly while its dataset is public and active,
    its resource is active, and it is the resource's current copy (not a
    copy left in another circle's bucket, nor a staging upload)."""
    return dataset_is_public(dataset) and bool(resource) and \
        resource.get("state") == "active" and location == current
