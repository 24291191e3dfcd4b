"""`ckan dcor-depot-worker`: CKAN's RQ worker plus the sweep of the job
outbox (job_queue.py), so that jobs that could not be queued, or failed
and are due again, are queued without an operator."""
from __future__ import annotations

import logging
import threading

import click
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from ckan import model
from ckan.lib import jobs as ckan_jobs

from .. import config as dcor_config
from .. import job_queue
from ..audit import store as audit_store

log = logging.getLogger(__name__)


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
        ckan_jobs.Worker(queues).work(burst=False)
    finally:
        stop.set()


COMMANDS = [dcor_depot_worker]
