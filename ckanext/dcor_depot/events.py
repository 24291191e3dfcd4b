"""What the depot does when CKAN creates, updates or deletes datasets and
resources. The plugin's hooks hand over to these functions.

Work is never done here, only asked for: each hook that CKAN calls before
its commit writes the jobs it needs into the outbox in the same
transaction (job_queue.request), and they are queued once it commits (a
waiting worker would otherwise read the old state). What happens after the
commit needs no database connection.
"""
from __future__ import annotations

from typing import Any

from ckan import model

from . import audit
from . import config as dcor_config
from . import db, jobs, resource_state
from .audit import rules as audit_rules
from .job_queue import request
from .storage import s3
from .workflows import visibility

# set on the context by the resource hooks: a resource change never
# changes the dataset's visibility (CKAN 2.11 gives no original dict then)
RESOURCE_CHANGE = "dcor_depot_resource_change"
DELETED_FROM = "dcor_depot_deleted_from"


# set by resource_create's hook: the ids the dataset had before, so that
# the dataset hook (before the commit) knows which resource is new
KNOWN_RESOURCES = "dcor_depot_known_resources"


def resource_changing(context: dict[str, Any]) -> None:
    context[RESOURCE_CHANGE] = True


def resource_creating(context: dict[str, Any],
                      resource: dict[str, Any]) -> None:
    context[RESOURCE_CHANGE] = True
    context[KNOWN_RESOURCES] = {
        rid for (rid,) in model.Session.query(model.Resource.id).filter(
            model.Resource.package_id == (resource.get("package_id") or ""))}


def resource_deleting(context: dict[str, Any],
                      resource: dict[str, Any]) -> None:
    context[RESOURCE_CHANGE] = True
    row = model.Session.get(model.Resource, resource.get("id") or "")
    if row is not None:
        context[DELETED_FROM] = row.package_id
        # committed with the deletion (after_resource_delete comes after
        # the commit); a deletion that fails leaves a harmless record
        db.record_deletion("resource", row.id)
        # the deleted resource's objects lose their public tag and its
        # symlink at CKAN's path goes (the depot copy stays)
        if not context.get("is_background_job"):
            request(jobs.VISIBILITY, row.package_id)


def resource_deleted(context: dict[str, Any]) -> None:
    context.pop(DELETED_FROM, None)


def resource_created(context: dict[str, Any],
                     resource: dict[str, Any]) -> None:
    """Nothing to do: CKAN's resource_create updates the dataset before its
    commit, and `dataset_updated` asks for the resource's steps then."""


def dataset_created(context: dict[str, Any],
                    dataset: dict[str, Any]) -> None:
    if not context.get("is_background_job") and _may_have_steps(dataset):
        request(jobs.UNFINISHED, dataset["id"])


def dataset_updated(context: dict[str, Any],
                    dataset: dict[str, Any]) -> None:
    before = context.get("original_package")
    if dataset.get("state") == "deleted" and \
            (before or {}).get("state") != "deleted":
        db.record_deletion("dataset", dataset["id"])
    if context.get("is_background_job"):
        return
    known = context.pop(KNOWN_RESOURCES, None)
    if known is not None:
        # resource_create: its new upload goes to the depot, then to S3
        # (the dict may lack the new id: CKAN sets it on its own copy)
        for rid, url_type, size in model.Session.query(
                model.Resource.id, model.Resource.url_type,
                model.Resource.size).filter(
                model.Resource.package_id == dataset["id"],
                model.Resource.state == "active"):
            if rid not in known and url_type == resource_state.UPLOAD:
                request(jobs.MOVE, rid)
                # in the request's transaction: committed with the resource
                audit.record(audit_rules.UPLOAD_ACCEPTED,
                             circle_id=dataset.get("owner_org"),
                             package_id=dataset["id"], resource_id=rid,
                             size=size, detail={"route": "upload"},
                             session=model.Session)
    if (not context.get(RESOURCE_CHANGE) and _may_have_steps(dataset)) or \
            _has_unbacked_direct_upload(dataset):
        # files uploaded through package_create/update/revise (DCOR-Aid's
        # legacy route) and direct uploads; a job looks at each resource
        # and queues its steps (the dict here may be older than the rows)
        request(jobs.UNFINISHED, dataset["id"])
    if not dcor_config.s3_enabled():
        return
    if _objects_in_another_circle(dataset):
        request(jobs.CIRCLE_MOVE, dataset["id"])
    if context.get(RESOURCE_CHANGE) and not before:
        return
    if before and before.get("id") == dataset.get("id") and \
            resource_state.dataset_is_public(before) == \
            resource_state.dataset_is_public(dataset):
        return  # visibility unchanged
    request(jobs.VISIBILITY, dataset["id"])


def dataset_deleted(context: dict[str, Any],
                    dataset: dict[str, Any]) -> None:
    if not dataset.get("id"):
        return
    db.record_deletion("dataset", dataset["id"])
    # a deleted dataset is not public: its objects lose the tag
    if dcor_config.s3_enabled():
        request(jobs.VISIBILITY, dataset["id"])


def _has_unbacked_direct_upload(dataset: dict[str, Any]) -> bool:
    return any(resource.get("url_type") == resource_state.S3_UPLOAD
               and not resource.get("sha256")
               for resource in dataset.get("resources") or [])


def _may_have_steps(dataset: dict[str, Any]) -> bool:
    return any(resource_state.may_have_steps(resource,
                                             dcor_config.s3_enabled())
               for resource in dataset.get("resources") or [])


def _objects_in_another_circle(dataset: dict[str, Any]) -> bool:
    """Some resource's object sits in a bucket other than its circle's:
    the dataset was moved to another circle."""
    if not dataset.get("owner_org"):
        return False
    bucket = s3.bucket_for_circle(dataset["owner_org"])
    return any(location[0] != bucket
               for location in map(visibility.recorded_location,
                                   dataset.get("resources") or [])
               if location)
