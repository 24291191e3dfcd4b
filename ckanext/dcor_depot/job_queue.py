"""Queueing the depot's RQ jobs: fixed job ids, no duplicates, and only
once the change that asks for them is committed."""
from __future__ import annotations

import datetime
from typing import Any, Callable

import sqlalchemy.event

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.lib import jobs as ckan_jobs

from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job

from . import config as dcor_config

# A job in one of these states will run; queueing it again would only
# duplicate the work.
PENDING = {"queued", "deferred", "scheduled", "started"}
# ... except for jobs that must see the latest state: a started one may
# have read the old one, so another is queued
WAITING = {"queued", "deferred", "scheduled"}

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


def enqueue_when_committed(context: dict[str, Any],
                           enqueue_fn: Callable[..., Any], *args: Any) -> None:
    """For hooks that CKAN calls after its commit, unless the caller of the
    action defers the commit."""
    if context.get("defer_commit"):
        enqueue_after_commit(enqueue_fn, *args)
    else:
        enqueue_fn(*args)


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


def enqueue_probe(fn: Callable[[str], Any], token: str) -> Job:
    """A job that only shows that a worker of the depot queue runs
    (`ckan dcor-depot-doctor`); gone from Redis five minutes after."""
    return tk.enqueue_job(fn, [token], title="dcor-depot-doctor probe",
                          queue=dcor_config.jobs_queue(),
                          rq_kwargs={"job_id": f"{token}-doctor-probe",
                                     "timeout": 60, "result_ttl": 300,
                                     "failure_ttl": 300, "ttl": 300})
