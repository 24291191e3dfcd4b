"""`ckan dcor-depot-worker`: CKAN's RQ worker plus the sweep of the job
outbox (job_queue.py), so that jobs that could not be queued, or failed
and are due again, are queued without an operator."""
from __future__ import annotations

import logging
import signal
import threading
import time

import click
import redis
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from ckan import model
from ckan.lib import jobs as ckan_jobs

from .. import config as dcor_config
from .. import job_queue
from ..audit import store as audit_store

log = logging.getLogger(__name__)

# how long to wait before entering RQ's work loop again after it quit
# without a stop request (Redis unreachable): doubling, at most the last
RESTART_DELAYS = (1, 2, 4, 8, 16, 30)
# a work loop that ran this long was not part of the same outage
STEADY_SECONDS = 60


class _StoppableWorker(ckan_jobs.Worker):
    """CKAN's worker that remembers whether SIGTERM/SIGINT asked it to
    stop, so that a work loop that ended for another reason is entered
    again."""
    stop_asked = False

    def request_stop(self, signum, frame):
        self.stop_asked = True
        super().request_stop(signum, frame)


def _work_until_stopped(queues: list[str]) -> None:
    """RQ's work loop, entered again whenever it quits on its own.

    RQ waits out a Redis outage only while it waits for a job; a Redis
    error anywhere else in its loop (the heartbeat, the maintenance, the
    end of a job) makes it log "found an unhandled exception, quitting"
    and return. A supervisor would restart the process after a while, but
    this process also runs the outbox sweep, so it goes on by itself: a
    Redis restart must never leave the depot's jobs without a worker.
    """
    # SIGTERM/SIGINT outside RQ's loop (which installs its own handlers)
    stopping = threading.Event()

    def stop_between_loops(signum, frame):
        stopping.set()

    failures = 0
    while True:
        signal.signal(signal.SIGTERM, stop_between_loops)
        signal.signal(signal.SIGINT, stop_between_loops)
        began = time.monotonic()
        worker = None
        try:
            # the constructor talks to Redis already
            worker = _StoppableWorker(queues)
            if stopping.is_set():
                return
            worker.work(burst=False)
        except (redis.exceptions.ConnectionError,
                redis.exceptions.TimeoutError) as exc:
            # raised outside RQ's loop (naming and registering the
            # worker, its teardown): Redis is not there
            log.warning("worker: Redis unreachable: %s", exc)
        if worker is not None and worker.stop_asked:
            return
        signal.signal(signal.SIGTERM, stop_between_loops)
        signal.signal(signal.SIGINT, stop_between_loops)
        if time.monotonic() - began > STEADY_SECONDS:
            failures = 0  # a new outage starts the delays anew
        delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
        failures += 1
        log.warning("worker: RQ's work loop ended without a stop request; "
                    "entering it again in %d s", delay)
        if stopping.wait(delay):
            return


def _sweep_forever(stop: threading.Event, interval: int) -> None:
    # an engine of its own without a pool: CKAN's worker disposes its
    # engine before each fork, and no connection of this thread may be
    # handed to a job
    engine = sa.create_engine(model.meta.engine.url, poolclass=NullPool)
    while not stop.wait(interval):
        try:
            job_queue.sweep(engine)
            audit_store.flush_spool(engine)
        except Exception as exc:  # Redis or PostgreSQL down: next time
            log.warning("outbox sweep failed: %s", exc)


@click.command("dcor-depot-worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True,
              help="Stop when the queues are empty (sweeps once first).")
def dcor_depot_worker(queues, burst):
    """Run CKAN's job worker on QUEUES (default: the depot's queue) and
    sweep the job outbox (and the audit spool) every
    `outbox_sweep_interval` seconds."""
    queues = list(queues) or [dcor_config.jobs_queue()]
    if burst:
        queued = job_queue.sweep()
        audit_store.flush_spool()
        click.echo(f"outbox: {queued} jobs queued")
        ckan_jobs.Worker(queues).work(burst=True)
        return
    stop = threading.Event()
    sweeper = threading.Thread(
        target=_sweep_forever, name="dcor-depot-outbox-sweep", daemon=True,
        args=(stop, dcor_config.outbox_sweep_interval()))
    sweeper.start()
    try:
        _work_until_stopped(queues)
    finally:
        stop.set()


COMMANDS = [dcor_depot_worker]
