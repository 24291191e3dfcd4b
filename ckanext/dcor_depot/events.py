"""What the depot does when CKAN creates, updates or deletes datasets and
resources. The plugin's hooks hand over to these functions.

Work is never done here, only queued: jobs from hooks that CKAN calls
before its commit are queued once the transaction commits (a waiting
worker would otherwise read the old state).
"""
from __future__ import annotations

from typing import Any

from ckan import model

from . import config as dcor_config
from . import db, jobs, resource_state
from .job_queue import enqueue_after_commit, enqueue_when_committed
from .storage import s3
from .workflows import visibility

# set on the context by the resource hooks: a resource change never
# changes the dataset's visibility (CKAN 2.11 gives no original dict then)
RESOURCE_CHANGE = "dcor_depot_resource_change"
DELETED_FROM = "dcor_depot_deleted_from"


def resource_changing(context: dict[str, Any]) -> None:
    context[RESOURCE_CHANGE] = True


def resource_deleting(context: dict[str, Any],
                      resource: dict[str, Any]) -> None:
    context[RESOURCE_CHANGE] = True
    row = model.Session.get(model.Resource, resource.get("id") or "")
    if row is not None:
        context[DELETED_FROM] = row.package_id
        # committed with the deletion (after_resource_delete comes after
        # the commit); a deletion that fails leaves a harmless record
        db.record_deletion("resource", row.id)


def resource_deleted(context: dict[str, Any]) -> None:
    """The deleted resource's objects lose their public tag and its symlink
    at CKAN's path goes (the depot copy stays)."""
    dataset_id = context.pop(DELETED_FROM, None)
    if dataset_id and not context.get("is_background_job"):
        enqueue_when_committed(context, jobs.enqueue_visibility_job,
                               dataset_id)


def resource_created(context: dict[str, Any],
                     resource: dict[str, Any]) -> None:
    # work done inside our own jobs and commands is placed by them
    if context.get("is_background_job") or \
            resource.get("url_type") != resource_state.UPLOAD:
        return
    enqueue_when_committed(context, jobs.enqueue_resource_jobs,
                           resource["id"])


def dataset_created(context: dict[str, Any],
                    dataset: dict[str, Any]) -> None:
    if not context.get("is_background_job"):
        enqueue_after_commit(jobs.enqueue_unfinished_resources, dataset["id"])


def dataset_updated(context: dict[str, Any],
                    dataset: dict[str, Any]) -> None:
    before = context.get("original_package")
    if dataset.get("state") == "deleted" and \
            (before or {}).get("state") != "deleted":
        db.record_deletion("dataset", dataset["id"])
    if context.get("is_background_job"):
        return
    if not context.get(RESOURCE_CHANGE) or _has_unbacked_direct_upload(
            dataset):
        # files uploaded through package_create/update/revise (DCOR-Aid's
        # legacy route) and direct uploads; resource_create queues the
        # jobs of its upload itself
        enqueue_after_commit(jobs.enqueue_unfinished_resources, dataset["id"])
    if not dcor_config.s3_enabled():
        return
    if _objects_in_another_circle(dataset):
        enqueue_after_commit(jobs.enqueue_circle_move_job, dataset["id"])
    if context.get(RESOURCE_CHANGE) and not before:
        return
    if before and before.get("id") == dataset.get("id") and \
            resource_state.dataset_is_public(before) == \
            resource_state.dataset_is_public(dataset):
        return  # visibility unchanged
    enqueue_after_commit(jobs.enqueue_visibility_job, dataset["id"])


def dataset_deleted(context: dict[str, Any],
                    dataset: dict[str, Any]) -> None:
    if not dataset.get("id"):
        return
    db.record_deletion("dataset", dataset["id"])
    # a deleted dataset is not public: its objects lose the tag
    if dcor_config.s3_enabled():
        enqueue_after_commit(jobs.enqueue_visibility_job, dataset["id"])


def _has_unbacked_direct_upload(dataset: dict[str, Any]) -> bool:
    return any(resource.get("url_type") == resource_state.S3_UPLOAD
               and not resource.get("sha256")
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
