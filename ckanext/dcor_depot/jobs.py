"""The depot's RQ jobs, thin wrappers over the workflows.

Jobs take ids and re-read the state, so a job that was killed can simply
run again. `run_step` is the one code path of a resource's steps: the jobs
run it, and `ckan run-jobs-dcor-depot` runs it in the foreground.
"""
from __future__ import annotations

import logging
import time

from rq.job import Job

from . import config as dcor_config
from .job_queue import WAITING, enqueue
from .metrics import counters as metrics
from .resource_state import Step
from .storage import s3
from .workflows import (checksums, circle_move, depot_move, direct_upload,
                        object_store, records, visibility)

log = logging.getLogger(__name__)
RETRIES = 3  # of jobs that must converge on the latest state


# The steps of a resource

def _depot_move(resource_id: str) -> str:
    return depot_move.move_resource_to_depot(resource_id)


def _s3_upload(resource_id: str) -> str:
    result = object_store.store_resource_in_object_store(resource_id)
    _follow_circle_move(result.dataset_id, result.stored.bucket)
    return "uploaded" if result.stored.uploaded else "verified"


def _backup(resource_id: str) -> str:
    how = direct_upload.backup_object_to_depot(resource_id)
    resource = records.show_resource(resource_id)
    location = visibility.recorded_location(resource)
    if location:
        _follow_circle_move(resource["package_id"], location[0])
    return how


STEPS = {Step.DEPOT_MOVE: _depot_move, Step.S3_UPLOAD: _s3_upload,
         Step.BACKUP: _backup, Step.CHECKSUMS: checksums.fill_checksums}


def run_step(step: Step, resource_id: str) -> str:
    """Run one step of a resource; returns how it went. A failure logs one
    clear line and raises (RQ keeps the details)."""
    started = time.monotonic()
    try:
        how = STEPS[step](resource_id)
    except Exception as exc:
        log.error("%s of resource %s failed: %s", step.name, resource_id, exc)
        metrics.count("job_failures", step=step.value)
        raise
    finally:
        metrics.observe("job_duration_seconds", time.monotonic() - started,
                        step=step.value)
    log.info("resource %s: %s %s", resource_id, step.name, how)
    return how


def _follow_circle_move(dataset_id: str, bucket: str) -> None:
    """The dataset may have moved to another circle while the object went
    to the old one's bucket: the move job (which found no object to move
    then) takes it along."""
    dataset = visibility.dataset_row(dataset_id)
    if dataset and dataset["owner_org"] and \
            s3.bucket_for_circle(dataset["owner_org"]) != bucket:
        enqueue_circle_move_job(dataset_id)


# The jobs

def move_to_depot_job(resource_id: str) -> str:
    try:
        return run_step(Step.DEPOT_MOVE, resource_id)
    finally:
        # the upload follows the move, even a failed one: it reads the file
        # wherever it is. Queued from here, not with an RQ dependency, so
        # that resource_create pays for one enqueue, not two. Without an
        # object store, the checksums come from one read of the file.
        if dcor_config.s3_enabled():
            enqueue(upload_to_s3_job, resource_id, "depot-upload",
                    f"Upload resource {resource_id} to S3")
        else:
            enqueue_checksums_job(resource_id)


def upload_to_s3_job(resource_id: str) -> str:
    return run_step(Step.S3_UPLOAD, resource_id)


def backup_job(resource_id: str) -> str:
    return run_step(Step.BACKUP, resource_id)


def checksums_job(resource_id: str) -> str:
    return run_step(Step.CHECKSUMS, resource_id)


def visibility_job(dataset_id: str) -> int:
    try:
        changed = visibility.apply_dataset_visibility(dataset_id)
    except Exception as exc:
        log.error("visibility of dataset %s failed: %s", dataset_id, exc)
        raise
    log.info("dataset %s: %d object tags changed", dataset_id, changed)
    return changed


def circle_move_job(dataset_id: str) -> int:
    try:
        moved = circle_move.move_objects_to_current_circle(dataset_id)
    except Exception as exc:
        log.error("move of dataset %s to its circle failed: %s", dataset_id,
                  exc)
        raise
    log.info("dataset %s: objects of %d resources moved to its circle",
             dataset_id, moved)
    return moved


# Queueing them (fixed ids: `{id}-{suffix}`)

def enqueue_resource_jobs(resource_id: str) -> Job:
    """The jobs of an uploaded resource: the depot move, which then queues
    the S3 upload."""
    return enqueue(move_to_depot_job, resource_id, "depot-move",
                   f"Move resource {resource_id} into the user depot")


def enqueue_backup_job(resource_id: str) -> Job:
    return enqueue(backup_job, resource_id, "depot-backup",
                   f"Back up resource {resource_id} from S3 to the depot")


def enqueue_visibility_job(dataset_id: str) -> Job:
    # a started job may have read the old visibility: queue another one
    # (it waits for the running one: one per dataset runs at a time)
    return enqueue(visibility_job, dataset_id, "visibility",
                   f"Apply visibility of dataset {dataset_id} to S3",
                   pending=WAITING, retries=RETRIES)


def enqueue_circle_move_job(dataset_id: str) -> Job:
    return enqueue(circle_move_job, dataset_id, "circle-move",
                   f"Move objects of dataset {dataset_id} to its circle",
                   pending=WAITING, retries=RETRIES)


def enqueue_checksums_job(resource_id: str) -> Job:
    return enqueue(checksums_job, resource_id, "checksums",
                   f"Compute the checksums of resource {resource_id}")


FIRST_JOB = {Step.DEPOT_MOVE: enqueue_resource_jobs,
             Step.S3_UPLOAD: enqueue_resource_jobs,
             Step.BACKUP: enqueue_backup_job,
             Step.CHECKSUMS: enqueue_checksums_job}


def enqueue_unfinished_resources(dataset_id: str) -> int:
    """Queue the jobs of the dataset's resources that have steps to do.
    For files uploaded through package_create/update, which call no
    resource hook; runs after the commit, when the resources have ids."""
    queued = 0
    for row in visibility.resource_rows(dataset_id):
        if row["state"] != "active":
            continue
        resource = {**(row["extras"] or {}), "id": row["id"],
                    "url_type": row["url_type"]}
        try:
            steps = records.steps_needed(resource)
        except ValueError:
            continue  # not an id we can place; run-jobs reports it
        if steps:
            FIRST_JOB[steps[0]](row["id"])
            queued += 1
    return queued
