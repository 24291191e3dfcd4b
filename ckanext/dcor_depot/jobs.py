"""The depot's RQ jobs, thin wrappers over the workflows.

Jobs take ids and re-read the state, so a job that was killed can simply
run again. `run_step` is the one code path of a resource's steps: the jobs
run it, and `ckan run-jobs-dcor-depot` runs it in the foreground.
"""
from __future__ import annotations

import logging
import time

from rq.job import Job

from . import audit
from . import config as dcor_config
from . import job_queue
from .job_queue import WAITING, enqueue
from .audit import rules as audit_rules
from .metrics import counters as metrics
from .resource_state import Step
from .storage import locks, s3
from .workflows import (checksums, circle_move, depot_move, direct_upload,
                        object_store, records, visibility)

log = logging.getLogger(__name__)


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


# a copy whose bytes do not match the record
INTEGRITY_ERRORS = (checksums.ChecksumMismatch, s3.UploadVerificationError)

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
        if isinstance(exc, INTEGRITY_ERRORS):
            _record_integrity_error(step, resource_id, exc)
        raise
    finally:
        metrics.observe("job_duration_seconds", time.monotonic() - started,
                        step=step.value)
    log.info("resource %s: %s %s", resource_id, step.name, how)
    return how


def _record_integrity_error(step: Step, resource_id: str,
                            exc: Exception) -> None:
    resource = visibility.resource_row(resource_id) or {}
    dataset = visibility.dataset_row(resource.get("package_id") or "") or {}
    audit.record(audit_rules.INTEGRITY_ERROR, circle_id=dataset.get(
        "owner_org"), package_id=dataset.get("id"), resource_id=resource_id,
        outcome="failed", detail={"step": step.value, "error": str(exc)})


def _follow_circle_move(dataset_id: str, bucket: str) -> None:
    """The dataset may have moved to another circle while the object went
    to the old one's bucket: the move job (which found no object to move
    then) takes it along."""
    dataset = visibility.dataset_row(dataset_id)
    if dataset and dataset["owner_org"] and \
            s3.bucket_for_circle(dataset["owner_org"]) != bucket:
        enqueue_circle_move_job(dataset_id)


# The jobs (each runs through its outbox row: job_queue.run)

MOVE, UPLOAD, BACKUP, CHECKSUMS = ("depot-move", "depot-upload",
                                   "depot-backup", "checksums")
VISIBILITY, CIRCLE_MOVE, UNFINISHED = ("visibility", "circle-move",
                                       "unfinished")


def _move_then_upload(resource_id: str) -> str:
    try:
        return run_step(Step.DEPOT_MOVE, resource_id)
    finally:
        # the upload follows the move, even a failed one: it reads the file
        # wherever it is. Queued from here, not with an RQ dependency, so
        # that resource_create pays for one enqueue, not two. Without an
        # object store, the checksums come from one read of the file.
        enqueue(UPLOAD if dcor_config.s3_enabled() else CHECKSUMS,
                resource_id)


def move_to_depot_job(resource_id: str) -> str:
    return job_queue.run(MOVE, resource_id, _move_then_upload)


def upload_to_s3_job(resource_id: str) -> str:
    return job_queue.run(UPLOAD, resource_id,
                         lambda rid: run_step(Step.S3_UPLOAD, rid))


def backup_job(resource_id: str) -> str:
    return job_queue.run(BACKUP, resource_id,
                         lambda rid: run_step(Step.BACKUP, rid))


def checksums_job(resource_id: str) -> str:
    return job_queue.run(CHECKSUMS, resource_id,
                         lambda rid: run_step(Step.CHECKSUMS, rid))


def _visibility(dataset_id: str) -> int:
    try:
        changed = visibility.apply_dataset_visibility(dataset_id)
    except Exception as exc:
        log.error("visibility of dataset %s failed: %s", dataset_id, exc)
        raise
    log.info("dataset %s: %d object tags changed", dataset_id, changed)
    return changed


def visibility_job(dataset_id: str) -> int:
    return job_queue.run(VISIBILITY, dataset_id, _visibility)


def _circle_move(dataset_id: str) -> int:
    try:
        moved = circle_move.move_objects_to_current_circle(dataset_id)
    except Exception as exc:
        log.error("move of dataset %s to its circle failed: %s", dataset_id,
                  exc)
        raise
    log.info("dataset %s: objects of %d resources moved to its circle",
             dataset_id, moved)
    return moved


def circle_move_job(dataset_id: str) -> int:
    return job_queue.run(CIRCLE_MOVE, dataset_id, _circle_move)


def unfinished_resources_job(dataset_id: str) -> int:
    return job_queue.run(UNFINISHED, dataset_id, queue_unfinished_resources)


# the first job of each step (the move queues the upload itself)
FIRST_JOB = {Step.DEPOT_MOVE: MOVE, Step.S3_UPLOAD: UPLOAD,
             Step.BACKUP: BACKUP, Step.CHECKSUMS: CHECKSUMS}
STEP_JOBS = (MOVE, UPLOAD, BACKUP, CHECKSUMS)

job_queue.register(MOVE, move_to_depot_job,
                   "Move resource {id} into the user depot")
job_queue.register(UPLOAD, upload_to_s3_job, "Upload resource {id} to S3")
job_queue.register(BACKUP, backup_job,
                   "Back up resource {id} from S3 to the depot")
job_queue.register(CHECKSUMS, checksums_job,
                   "Compute the checksums of resource {id}")
# a started job may have read the old state: another one is queued (it
# waits for the running one: one per dataset runs at a time)
job_queue.register(VISIBILITY, visibility_job,
                   "Apply visibility of dataset {id} to S3", pending=WAITING)
job_queue.register(CIRCLE_MOVE, circle_move_job,
                   "Move objects of dataset {id} to its circle",
                   pending=WAITING)
job_queue.register(UNFINISHED, unfinished_resources_job,
                   "Queue the steps of dataset {id}'s resources",
                   pending=WAITING)


# Queueing them from jobs and commands (requests use job_queue.request)

def enqueue_resource_jobs(resource_id: str) -> bool:
    """The jobs of an uploaded resource: the depot move, which then queues
    the S3 upload."""
    return enqueue(MOVE, resource_id)


def enqueue_backup_job(resource_id: str) -> bool:
    return enqueue(BACKUP, resource_id)


def enqueue_visibility_job(dataset_id: str) -> bool:
    return enqueue(VISIBILITY, dataset_id)


def enqueue_circle_move_job(dataset_id: str) -> bool:
    return enqueue(CIRCLE_MOVE, dataset_id)


def enqueue_checksums_job(resource_id: str) -> bool:
    return enqueue(CHECKSUMS, resource_id)


def forget_steps(resource_id: str) -> None:
    """The resource has no steps left: its jobs' outbox rows go."""
    for kind in STEP_JOBS:
        job_queue.forget(kind, resource_id)


def queue_unfinished_resources(dataset_id: str) -> int:
    """Queue the first job of each of the dataset's resources that has
    steps to do and none waiting or running. Runs in a worker: requests
    only ask for it (a request's commit may not wait for a database
    connection). One per dataset at a time."""
    queued = 0
    with locks.dataset_job_lock(dataset_id, UNFINISHED) as held:
        for row in visibility.resource_rows(dataset_id):
            if row["state"] != "active":
                continue
            # the outbox first, then the row: a step job keeps its row
            # until it has saved its fields (and a move queues the upload
            # before it ends), so a resource without rows shows its real
            # state below; one with a row (waiting, running, backing off)
            # is left to that job
            if job_queue.has_rows(row["id"], STEP_JOBS):
                continue
            fresh = visibility.resource_row(row["id"])
            if fresh is None or fresh["state"] != "active":
                continue
            resource = {**(fresh["extras"] or {}), "id": fresh["id"],
                        "url_type": fresh["url_type"]}
            try:
                steps = records.steps_needed(resource)
            except ValueError:
                continue  # not an id we can place; run-jobs reports it
            if steps:
                enqueue(FIRST_JOB[steps[0]], row["id"])
                queued += 1
            held.refresh()
    return queued
