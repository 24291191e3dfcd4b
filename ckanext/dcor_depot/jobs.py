"""RQ jobs and their enqueueing. Jobs take ids and re-read the state, so a
job that was killed can simply run again."""
from __future__ import annotations

import datetime
import logging
import os
from typing import Any, Callable

import sqlalchemy.event

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.lib import jobs as ckan_jobs

from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job

from . import config as dcor_config
from . import pipeline
from .storage import s3
from .workflows import circle_move, direct_upload, visibility

log = logging.getLogger(__name__)

# A job in one of these states will run; queueing it again would only
# duplicate the work.
PENDING = {"queued", "deferred", "scheduled", "started"}


def _run_logged(what: str, fn, entity_id: str):
    """Run one step; a failure logs one clear line (RQ keeps the details)."""
    try:
        return fn(entity_id)
    except Exception as exc:
        log.error("%s of %s failed: %s", what, entity_id, exc)
        raise


def move_to_depot_job(resource_id: str) -> str:
    try:
        how = _run_logged("depot move", pipeline.move_resource_to_depot,
                          resource_id)
    finally:
        # the upload follows the move, even a failed one: it reads the file
        # wherever it is. Queued from here, not with an RQ dependency, so
        # that resource_create pays for one enqueue, not two.
        if dcor_config.s3_enabled():
            enqueue(upload_to_s3_job, resource_id, "depot-upload",
                    f"Upload resource {resource_id} to S3")
    log.info("resource %s in the depot (%s)", resource_id, how)
    return how


def upload_to_s3_job(resource_id: str) -> str:
    result = _run_logged("S3 upload", pipeline.store_resource_in_object_store,
                         resource_id)
    log.info("resource %s in s3://%s/%s (%s, public=%s)", resource_id,
             result.stored.bucket, result.stored.key,
             "uploaded" if result.stored.uploaded else "already there",
             result.public)
    _follow_circle_move(result.dataset_id, result.stored.bucket)
    return result.stored.sha256


def _follow_circle_move(dataset_id: str, bucket: str) -> None:
    """The dataset may have moved to another circle while the object went
    to the old one's bucket: the move job (which found no object to move
    then) takes it along."""
    dataset = visibility.dataset_row(dataset_id)
    if dataset and dataset["owner_org"] and \
            s3.bucket_for_circle(dataset["owner_org"]) != bucket:
        enqueue_circle_move_job(dataset_id)


def visibility_job(dataset_id: str) -> int:
    changed = _run_logged("visibility update",
                          visibility.apply_dataset_visibility, dataset_id)
    log.info("dataset %s: %d object tags changed", dataset_id, changed)
    return changed


def circle_move_job(dataset_id: str) -> int:
    moved = _run_logged("move to the current circle",
                        circle_move.move_objects_to_current_circle,
                        dataset_id)
    log.info("dataset %s: objects of %d resources moved to its circle",
             dataset_id, moved)
    return moved


# Enqueueing after the commit

# CKAN calls the dataset hooks before it commits. A worker that is already
# waiting would run the job at once and read the old state (a dataset made
# private would keep its public objects), so those hooks enqueue on commit.
_AFTER_COMMIT = "dcor_depot_enqueue_after_commit"


def enqueue_after_commit(enqueue_fn: Callable[..., Any], *args: Any) -> None:
    """Call `enqueue_fn(*args)` once the current transaction commits; drop
    it if the transaction rolls back. Only for callers that a commit
    follows, such as CKAN's dataset hooks."""
    model.Session().info.setdefault(_AFTER_COMMIT, []).append(
        (enqueue_fn, args))


@sqlalchemy.event.listens_for(model.Session, "after_commit")
def _enqueue_committed(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint (CKAN 2.12 uses them): nothing is committed yet
    for enqueue_fn, args in session.info.pop(_AFTER_COMMIT, []):
        enqueue_fn(*args)


@sqlalchemy.event.listens_for(model.Session, "after_transaction_end")
def _drop_uncommitted(session, transaction) -> None:
    # the outermost transaction ended without a commit (which would have
    # emptied the list): rolled back or closed
    if transaction.parent is None:
        session.info.pop(_AFTER_COMMIT, None)


# A "started" job whose worker has not sent a heartbeat for this long was
# killed; it will never finish and may be queued again.
STALE_HEARTBEAT = datetime.timedelta(minutes=3)


def _pending_job(job_id: str, pending: set[str]) -> Job | None:
    try:
        job = Job.fetch(job_id, connection=ckan_jobs.get_queue().connection)
    except NoSuchJobError:
        return None
    status = job.get_status(refresh=True)
    if status not in pending:
        return None
    if status == "started":
        beat = job.last_heartbeat
        now = datetime.datetime.now(datetime.timezone.utc)
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=datetime.timezone.utc)
        if beat is None or now - beat > STALE_HEARTBEAT:
            return None
    return job


def enqueue(fn, entity_id: str, suffix: str, title: str,
            pending: set[str] = PENDING, retries: int = 0) -> Job:
    """Enqueue `fn(entity_id)` as job `{entity_id}-{suffix}`, unless that
    job is already waiting or running. A job with `retries` is queued again
    that many times when it fails."""
    job_id = f"{entity_id}-{suffix}"
    job = _pending_job(job_id, pending)
    if job is not None:
        return job
    rq_kwargs = {"job_id": job_id, "timeout": dcor_config.job_timeout(),
                 "failure_ttl": 7 * 24 * 3600}
    if retries:
        # queued again at once (CKAN 2.11's worker runs no RQ scheduler,
        # which delayed retries need); S3 calls inside back off themselves
        rq_kwargs["retry"] = Retry(max=retries)
    return tk.enqueue_job(fn, [entity_id], title=title,
                          queue=dcor_config.jobs_queue(), rq_kwargs=rq_kwargs)


def enqueue_resource_jobs(resource_id: str) -> Job:
    """The jobs of an uploaded resource: the depot move, which then queues
    the S3 upload."""
    return enqueue(move_to_depot_job, resource_id, "depot-move",
                   f"Move resource {resource_id} into the user depot")


def enqueue_unfinished_resources(dataset_id: str) -> int:
    """Queue the jobs of the dataset's resources whose files are not placed
    yet: the depot move (and S3 upload) of uploads, the backup of direct
    uploads. For uploads through package_create/update, which call no
    resource hook; runs after the commit, when the resources have ids."""
    queued = 0
    for resource in visibility.resource_rows(dataset_id):
        if resource["state"] != "active":
            continue
        extras = resource.get("extras") or {}
        try:
            in_depot = os.path.islink(pipeline.ckan_path(resource["id"]))
        except ValueError:
            continue  # not an id we can place; run-jobs reports it
        if resource["url_type"] == "upload" and not in_depot \
                and not extras.get("s3_available"):
            enqueue_resource_jobs(resource["id"])
            queued += 1
        elif resource["url_type"] == pipeline.S3_UPLOAD and \
                not extras.get("sha256") and dcor_config.s3_enabled():
            enqueue_backup_job(resource["id"])
            queued += 1
    return queued


def enqueue_visibility_job(dataset_id: str) -> Job:
    # a started job may have read the old visibility: queue another one
    # (it waits for the running one: one per dataset runs at a time)
    return enqueue(visibility_job, dataset_id, "visibility",
                   f"Apply visibility of dataset {dataset_id} to S3",
                   pending={"queued", "deferred", "scheduled"},
                   retries=VISIBILITY_RETRIES)


VISIBILITY_RETRIES = 3


def enqueue_circle_move_job(dataset_id: str) -> Job:
    return enqueue(circle_move_job, dataset_id, "circle-move",
                   f"Move objects of dataset {dataset_id} to its circle",
                   pending={"queued", "deferred", "scheduled"},
                   retries=VISIBILITY_RETRIES)


def backup_job(resource_id: str) -> str:
    how = _run_logged("depot backup", direct_upload.backup_object_to_depot,
                      resource_id)
    log.info("resource %s backed up to the depot (%s)", resource_id, how)
    resource = pipeline.show_resource(resource_id)
    if resource.get("s3_url"):
        bucket = visibility.recorded_location(resource)
        if bucket:
            _follow_circle_move(resource["package_id"], bucket[0])
    return how


def enqueue_backup_job(resource_id: str) -> Job:
    return enqueue(backup_job, resource_id, "depot-backup",
                   f"Back up resource {resource_id} from S3 to the depot")
