"""Object tags follow the dataset: `public=true` exactly while the dataset
is public and active, the resource active and the object its current copy.

Every tag write happens under the dataset's tags lock and decides from the
dataset and resource rows read from the database inside that lock, on a
connection of its own: a transfer that read the visibility minutes ago, a
second worker or a cached ORM object can never put back a stale value.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from ckan import model

from .. import audit
from .. import config as dcor_config
from .. import naming, resource_state
from ..audit import rules as audit_rules
from ..storage import locks, s3
from . import records

log = logging.getLogger(__name__)

Location = resource_state.Location


# Fresh reads (committed state, never the session's identity map)

def _rows(query) -> list[dict[str, Any]]:
    with model.meta.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def dataset_row(dataset_id: str) -> dict[str, Any] | None:
    """id, name, private, state and owner_org of a dataset as committed."""
    table = model.package_table
    rows = _rows(sa.select(table.c.id, table.c.name, table.c.private,
                           table.c.state, table.c.owner_org)
                 .where(table.c.id == dataset_id))
    return rows[0] if rows else None


def resource_rows(dataset_id: str) -> list[dict[str, Any]]:
    """All resources of a dataset, deleted ones included, as committed:
    id, state, url_type and extras."""
    table = model.resource_table
    return _rows(sa.select(table.c.id, table.c.state, table.c.url_type,
                           table.c.extras)
                 .where(table.c.package_id == dataset_id)
                 .order_by(table.c.id))


def resource_row(resource_id: str) -> dict[str, Any] | None:
    table = model.resource_table
    rows = _rows(sa.select(table.c.id, table.c.package_id, table.c.state,
                           table.c.url_type, table.c.extras)
                 .where(table.c.id == resource_id))
    return rows[0] if rows else None


# Where a resource's objects are

def recorded_location(resource: dict[str, Any]) -> Location | None:
    """(bucket, key) of the resource's object as its `s3_url` names it."""
    extras = resource.get("extras") or {}
    url = resource.get("s3_url") or extras.get("s3_url")
    if not url:
        return None
    return naming.parse_object_url(url)


def locations(resource: dict[str, Any], owner_org: str | None,
              artifact: str) -> tuple[Location, list[Location]]:
    """The current location of an artifact, and every place a copy of it
    may be (the recorded bucket and the circle's bucket)."""
    key = naming.object_key(artifact, resource["id"])
    recorded = recorded_location(resource)
    buckets = []
    if recorded:
        buckets.append(recorded[0])
    if owner_org:
        buckets.append(s3.bucket_for_circle(owner_org))
    places = [(bucket, key) for bucket in dict.fromkeys(buckets)]
    current = (recorded[0], key) if recorded else places[0] if places \
        else None
    return current, places


# Tag writes

def should_be_public(dataset_id: str, resource_id: str,
                     location: Location) -> bool:
    """Read now: may the object at `location` of this resource be public?"""
    return _public_here(dataset_row(dataset_id), resource_row(resource_id),
                        location)[0]


def tag_object(dataset_id: str, resource_id: str, bucket: str, key: str,
               sha256: str | None = None) -> bool:
    """Write an object's tags under the dataset's lock: the public tag from
    the state read inside the lock, and `sha256` if given. Returns True if
    the tags changed. Every transfer ends with this call."""
    client = s3.get_client()
    with locks.dataset_tags_lock(dataset_id):
        dataset = dataset_row(dataset_id)
        resource = resource_row(resource_id)
        public, current = _public_here(dataset, resource, (bucket, key))
        changed, was_public = s3.update_tags_public(
            client, bucket, key, public=public, sha256=sha256)
        if public != was_public:
            _record_tag(public, dataset, resource_id, bucket, key,
                        audit_rules.visibility_reason(dataset, resource,
                                                      current))
        return changed


def _public_here(dataset: dict[str, Any] | None,
                 resource: dict[str, Any] | None,
                 location: Location) -> tuple[bool, bool]:
    """(may the object at `location` be public, is it the current copy)"""
    if dataset is None or resource is None or \
            resource["package_id"] != dataset["id"]:
        return False, False
    artifact = naming.parse_object_key(location[1])
    if artifact is None:
        return False, False
    current, _ = locations(resource, dataset["owner_org"], artifact[0])
    return (resource_state.object_should_be_public(
        dataset, resource, location, current), location == current)


def _record_tag(public: bool, dataset: dict[str, Any] | None,
                resource_id: str | None, bucket: str, key: str,
                why: str) -> None:
    audit.record(
        audit_rules.OBJECT_TAGGED if public else audit_rules.OBJECT_UNTAGGED,
        circle_id=dataset["owner_org"] if dataset else None,
        package_id=dataset["id"] if dataset else None,
        resource_id=resource_id,
        detail={"bucket": bucket, "key": key, "why": why})


def untag_now(dataset_id: str, bucket: str, key: str,
              why: str = "dataset purged") -> bool:
    """Take the public tag off at once (a purge), under the dataset's lock."""
    client = s3.get_client()
    with locks.dataset_tags_lock(dataset_id):
        changed, was_public = s3.update_tags_public(client, bucket, key,
                                                    public=False)
        if was_public:
            named = naming.parse_object_key(key)
            dataset = dataset_row(dataset_id)
            _record_tag(False, dataset or {"id": dataset_id,
                                           "owner_org": None},
                        named[1] if named else None, bucket, key, why)
        return changed


def existing_objects(dataset_id: str, owner_org: str | None,
                     resources: list[dict[str, Any]],
                     bad: Callable[[str, str], None]
                     ) -> Iterator[tuple[dict[str, Any], Location]]:
    """(resource, location) of every object that exists for the given
    resources in any place it may be. A resource whose id cannot name an
    object is reported through `bad` and skipped."""
    client = s3.get_client()
    for resource in resources:
        for artifact in naming.ARTIFACTS:
            try:
                _, places = locations(resource, owner_org, artifact)
            except ValueError as exc:
                bad(resource["id"], str(exc))
                break
            for bucket, key in places:
                if s3.object_head(client, bucket, key) is not None:
                    yield resource, (bucket, key)


def before_purge(dataset_id: str) -> int:
    """Take the public tag off every object of a dataset that is about to
    be purged and remove CKAN's symlinks (the depot copies stay). Purging
    calls no hooks, and afterwards no row would say where objects are."""
    bad = (lambda rid, why: log.warning(
        "dataset %s: resource %s skipped: %s", dataset_id, rid, why))
    dataset = dataset_row(dataset_id)
    resources = resource_rows(dataset_id)
    changed = 0
    if dcor_config.s3_enabled() and dataset is not None:
        for _, (bucket, key) in existing_objects(
                dataset_id, dataset["owner_org"], resources, bad):
            changed += untag_now(dataset_id, bucket, key)
    for resource in resources:
        remove_ckan_symlink(resource["id"], bad)
    return changed


def apply_dataset_visibility(dataset_id: str,
                             bad: Callable[[str, str], None] | None = None
                             ) -> int:
    """Make every object of the dataset (deleted resources included) carry
    the public tag exactly when it should, and remove CKAN's symlink of
    deleted resources (their verified depot copy stays). One such run per
    dataset at a time. Returns the number of objects whose tag changed."""
    bad = bad or (lambda rid, why: log.warning(
        "dataset %s: resource %s skipped: %s", dataset_id, rid, why))
    with locks.dataset_job_lock(dataset_id, "visibility") as held:
        dataset = dataset_row(dataset_id)
        if dataset is None:
            return 0  # purged; the purge took the tags off
        resources = resource_rows(dataset_id)
        changed = 0
        if dcor_config.s3_enabled():
            for resource, (bucket, key) in existing_objects(
                    dataset_id, dataset["owner_org"], resources, bad):
                changed += tag_object(dataset_id, resource["id"], bucket,
                                      key)
                held.refresh()
        for resource in resources:
            if resource["state"] != "active":
                remove_ckan_symlink(resource["id"], bad)
        return changed


def remove_ckan_symlink(resource_id: str,
                        bad: Callable[[str, str], None]) -> bool:
    """Remove the symlink at CKAN's path of a deleted resource, so a later
    resource with the same id cannot adopt its file. A regular file there
    (not moved to the depot yet) is the only copy and stays."""
    try:
        path = records.ckan_path(resource_id)
    except ValueError as exc:
        bad(resource_id, str(exc))
        return False
    if os.path.islink(path):
        os.unlink(path)
        return True
    return False
