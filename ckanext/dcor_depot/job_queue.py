"""Queueing the depot's RQ jobs through a durable outbox.

Every job of the depot has a fixed id, `{entity_id}-{kind}`, and a row in
`dcor_depot_job_outbox` (db.py) while it has work to do:

- A request (CKAN's hooks, actions) writes the row in its own transaction
  (`request`), so the intent is committed with the change that asks for
  it. After the commit the job is put into RQ. That needs Redis only, no
  database connection, and a failure there is logged, never answered as
  an error: the row stays.
- A job claims its row when it starts (counting the start and setting
  when it may be tried again) and removes it when it succeeds. A job whose
  row is gone was a duplicate of a run that already finished: it does
  nothing.
- The workers sweep the outbox (`sweep`, run by `ckan dcor-depot-worker`):
  a row that is due and whose job is not waiting or running is queued
  again. That covers Redis being down or restarted without persistence,
  a worker that was killed, and jobs that failed (S3, Redis or PostgreSQL
  unreachable): they are retried with back-off
  (`ckanext.dcor_depot.job_retry_intervals`), up to a number of starts.
  After that the row stays for `ckan run-jobs-dcor-depot`.
"""
from __future__ import annotations

import dataclasses
import datetime
import logging
from typing import Any, Callable

import sqlalchemy as sa
import sqlalchemy.event
from sqlalchemy.dialects.postgresql import insert

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.lib import jobs as ckan_jobs

from rq.exceptions import NoSuchJobError
from rq.job import Job

from . import audit
from . import config as dcor_config
from . import outbox_rules
from .audit import rules as audit_rules
from .db import job_outbox_table as outbox

log = logging.getLogger(__name__)

# A job in one of these states will run; queueing it again would only
# duplicate the work.
PENDING = {"queued", "deferred", "scheduled", "started"}
# ... except for jobs that must see the latest state: a started one may
# have read the old one, so another is queued
WAITING = {"queued", "deferred", "scheduled"}

# A "started" job whose worker has not sent a heartbeat for this long was
# killed; it will never finish and may be queued again.
STALE_HEARTBEAT = datetime.timedelta(minutes=3)


@dataclasses.dataclass(frozen=True)
class JobKind:
    """What a job id `{entity_id}-{kind}` runs."""
    kind: str
    function: Callable[[str], Any]
    title: str  # with {id}
    pending: frozenset[str]


KINDS: dict[str, JobKind] = {}


def register(kind: str, function: Callable[[str], Any], title: str,
             pending: set[str] = PENDING) -> None:
    KINDS[kind] = JobKind(kind, function, title, frozenset(pending))


def job_id(kind: str, entity_id: str) -> str:
    return f"{entity_id}-{kind}"


def _utc_now():
    """The database's clock (one clock for every process and machine)."""
    return sa.func.timezone("utc", sa.func.clock_timestamp())


def _interval(delta: datetime.timedelta):
    return sa.bindparam(None, delta, type_=sa.Interval)


def _upsert(kind: str, entity_id: str):
    now = _utc_now()
    statement = insert(outbox).values(
        job_id=job_id(kind, entity_id), kind=kind, entity_id=entity_id,
        requested_at=now, starts=0,
        next_attempt_at=now + _interval(outbox_rules.FIRST_SWEEP_DELAY))
    # a new request starts the count of starts anew
    return statement.on_conflict_do_update(
        index_elements=["job_id"],
        set_={"requested_at": statement.excluded.requested_at,
              "next_attempt_at": statement.excluded.next_attempt_at,
              "kind": statement.excluded.kind, "starts": 0,
              "last_error": None})


# Queueing in RQ (Redis only)

def _pending_job(job_id_: str, pending: frozenset[str] | set[str]
                 ) -> Job | None:
    try:
        job = Job.fetch(job_id_, connection=ckan_jobs.get_queue().connection)
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


def is_pending(kind: str, entity_id: str) -> bool:
    """The job is waiting or running (Redis only)."""
    return _pending_job(job_id(kind, entity_id), PENDING) is not None


def _queue(kind: str, entity_id: str,
           pending: frozenset[str] | None = None) -> Job:
    """Put the job into RQ unless it is already waiting (or running, for
    kinds that need not see the latest state). Touches Redis only."""
    spec = KINDS[kind]
    the_id = job_id(kind, entity_id)
    job = _pending_job(the_id, spec.pending if pending is None else pending)
    if job is not None:
        return job
    return tk.enqueue_job(
        spec.function, [entity_id], title=spec.title.format(id=entity_id),
        queue=dcor_config.jobs_queue(),
        rq_kwargs={"job_id": the_id, "timeout": dcor_config.job_timeout(),
                   "failure_ttl": 7 * 24 * 3600})


def _try_queue(kind: str, entity_id: str) -> bool:
    try:
        _queue(kind, entity_id)
    except Exception as exc:  # the row stays; the sweep queues it
        log.warning("job %s not queued now (%s); the workers' sweep of the "
                    "outbox will queue it", job_id(kind, entity_id), exc)
        return False
    return True


# Asking for a job

_AFTER_COMMIT = "dcor_depot_queue_after_commit"


def request(kind: str, entity_id: str) -> None:
    """Ask for a job in the current transaction of CKAN's session: its row
    is committed with the change, and it is queued after the commit. For
    requests (hooks and actions, before their commit)."""
    if kind not in KINDS:
        raise KeyError(f"no job kind {kind!r}")
    session = model.Session()
    session.execute(_upsert(kind, entity_id))
    wanted = session.info.setdefault(_AFTER_COMMIT, [])
    if (kind, entity_id) not in wanted:
        wanted.append((kind, entity_id))


def enqueue(kind: str, entity_id: str) -> bool:
    """Ask for a job and queue it now: for jobs and commands, outside any
    request. The row is committed first, on a connection of its own, so a
    failure to queue leaves it to the sweep. Returns True if it is in
    RQ."""
    with model.meta.engine.begin() as connection:
        connection.execute(_upsert(kind, entity_id))
    return _try_queue(kind, entity_id)


@sqlalchemy.event.listens_for(model.Session, "after_commit")
def _queue_committed(session) -> None:
    # No database here: the session still holds its connection, and under
    # load a second one from the pool may not come. Redis only, and a
    # failure is logged, never raised (the work is committed).
    if session.in_nested_transaction():
        return  # a savepoint (CKAN 2.12 uses them): nothing is committed yet
    for kind, entity_id in session.info.pop(_AFTER_COMMIT, []):
        _try_queue(kind, entity_id)


@sqlalchemy.event.listens_for(model.Session, "after_transaction_end")
def _drop_uncommitted(session, transaction) -> None:
    # the outermost transaction ended without a commit (which would have
    # emptied the list): rolled back, and the rows with it
    if transaction.parent is None:
        session.info.pop(_AFTER_COMMIT, None)


# Running a job (in the worker)

def retry_intervals() -> list[int]:
    return outbox_rules.parse_intervals(dcor_config.job_retry_intervals())


def run(kind: str, entity_id: str, work: Callable[[str], Any]) -> Any:
    """Run `work(entity_id)` as the job `{entity_id}-{kind}`: claim its
    row (a start is counted and the next try is due after the back-off,
    should this one fail or be killed), do the work, remove the row. A job
    without a row did its work already: it returns "done before"."""
    the_id = job_id(kind, entity_id)
    # two entries of one job id in RQ (two processes queued it at once)
    # must not run side by side: the second finds the lock taken
    lock = sa.func.hashtext(_LOCK_PREFIX + the_id)
    # a session lock, taken and given back in short transactions: the
    # connection is not left idle in a transaction while the job runs
    with model.meta.engine.connect() as lock_connection:
        with lock_connection.begin():
            taken = lock_connection.execute(
                sa.select(sa.func.pg_try_advisory_lock(lock))).scalar()
        if not taken:
            log.info("job %s: runs elsewhere, nothing to do", the_id)
            return "running elsewhere"
        try:
            return _claimed_run(kind, entity_id, work)
        finally:
            with lock_connection.begin():
                lock_connection.execute(
                    sa.select(sa.func.pg_advisory_unlock(lock)))


_LOCK_PREFIX = "dcor_depot job "


def _claimed_run(kind: str, entity_id: str,
                 work: Callable[[str], Any]) -> Any:
    the_id = job_id(kind, entity_id)
    intervals = retry_intervals()
    with model.meta.engine.begin() as connection:
        row = connection.execute(
            sa.select(outbox.c.starts, _utc_now().label("now"))
            .where(outbox.c.job_id == the_id).with_for_update()).first()
        if row is None:
            log.info("job %s: done before, nothing to do", the_id)
            return "done before"
        starts = row.starts + 1
        started = row.now
        connection.execute(outbox.update().where(outbox.c.job_id == the_id)
                           .values(starts=starts, next_attempt_at=started +
                                   outbox_rules.retry_delay(starts,
                                                            intervals)))
    try:
        with audit.acting_as(audit_rules.job_actor(kind)):
            result = work(entity_id)
    except Exception as exc:
        _note_failure(the_id, starts, intervals, exc)
        raise
    with model.meta.engine.begin() as connection:
        # a request that came while this ran keeps its row
        connection.execute(outbox.delete().where(
            outbox.c.job_id == the_id, outbox.c.requested_at <= started))
    return result


def _note_failure(the_id: str, starts: int, intervals: list[int],
                  exc: Exception) -> None:
    cap = outbox_rules.max_starts(intervals)
    if starts >= cap:
        log.error("job %s failed at its start %d of %d: left for "
                  "`ckan run-jobs-dcor-depot`: %s", the_id, starts, cap, exc)
    else:
        log.warning("job %s failed at its start %d of %d, queued again "
                    "in %s: %s", the_id, starts, cap,
                    outbox_rules.retry_delay(starts, intervals), exc)
    try:
        with model.meta.engine.begin() as connection:
            connection.execute(outbox.update().where(
                outbox.c.job_id == the_id).values(
                last_error=f"{type(exc).__name__}: {exc}"[:1000]))
    except Exception as db_exc:  # PostgreSQL may be what failed
        log.warning("job %s: failure not noted: %s", the_id, db_exc)


# The sweep

def sweep(engine: sa.engine.Engine | None = None, limit: int = 200) -> int:
    """Queue the outbox's jobs that are due, have starts left and are not
    waiting or running. Returns how many were queued."""
    cap = outbox_rules.max_starts(retry_intervals())
    query = (sa.select(outbox.c.kind, outbox.c.entity_id)
             .where(outbox.c.next_attempt_at <= _utc_now(),
                    outbox.c.starts < cap)
             .order_by(outbox.c.next_attempt_at).limit(limit))
    lock = sa.func.hashtext(_LOCK_PREFIX + "sweep")
    with (engine or model.meta.engine).connect() as connection:
        # one sweep at a time over all workers: two would queue one job
        # twice
        with connection.begin():
            taken = connection.execute(
                sa.select(sa.func.pg_try_advisory_lock(lock))).scalar()
        if not taken:
            return 0
        try:
            with connection.begin():
                due = connection.execute(query).all()
            return _queue_due(due)
        finally:
            with connection.begin():
                connection.execute(sa.select(sa.func.pg_advisory_unlock(lock)))


def _queue_due(due) -> int:
    queued = 0
    for kind, entity_id in due:
        if kind not in KINDS:
            log.warning("outbox: unknown job kind %r of %s", kind, entity_id)
            continue
        # any job that is waiting or running will remove the row itself
        if _pending_job(job_id(kind, entity_id), PENDING) is None:
            _queue(kind, entity_id, pending=frozenset(PENDING))
            queued += 1
    if queued:
        log.info("outbox: %d jobs queued again", queued)
    return queued


def has_rows(entity_id: str, kinds: tuple[str, ...]) -> bool:
    """Some job of these kinds for this id is asked for, waiting, running,
    backing off or left at its cap."""
    with model.meta.engine.connect() as connection:
        return connection.execute(sa.select(outbox.c.job_id).where(
            outbox.c.entity_id == entity_id,
            outbox.c.kind.in_(kinds)).limit(1)).first() is not None


def forget(kind: str, entity_id: str) -> None:
    """Remove a job's row: its work was done by other means
    (`ckan run-jobs-dcor-depot`)."""
    with model.meta.engine.begin() as connection:
        connection.execute(outbox.delete().where(
            outbox.c.job_id == job_id(kind, entity_id)))


def outbox_rows(engine: sa.engine.Engine | None = None
                ) -> list[dict[str, Any]]:
    with (engine or model.meta.engine).connect() as connection:
        return [dict(row._mapping) for row in connection.execute(
            sa.select(outbox).order_by(outbox.c.requested_at))]


def enqueue_probe(fn: Callable[[str], Any], token: str) -> Job:
    """A job that only shows that a worker of the depot queue runs
    (`ckan dcor-depot-doctor`); gone from Redis five minutes after."""
    return tk.enqueue_job(fn, [token], title="dcor-depot-doctor probe",
                          queue=dcor_config.jobs_queue(),
                          rq_kwargs={"job_id": f"{token}-doctor-probe",
                                     "timeout": 60, "result_ttl": 300,
                                     "failure_ttl": 300, "ttl": 300})
