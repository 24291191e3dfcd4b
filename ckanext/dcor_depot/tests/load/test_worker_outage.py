"""A worker that is running a job when Redis goes away goes on working
once Redis is back (`ckan dcor-depot-worker`, cli/worker.py)."""
import time

import pytest
import redis
import rq

from ckan.lib import jobs as ckan_jobs

from ckanext.dcor_depot import config as dcor_config

from .services import PrivateRedis

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "with_plugins"),
]


def job_status(connection, job_id):
    try:
        return rq.job.Job.fetch(job_id, connection=connection).get_status(
            refresh=True)
    except rq.exceptions.NoSuchJobError:
        return None


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_a_worker_busy_when_redis_restarts_goes_on_working(deployment,
                                                            tmp_path):
    """Before: RQ's work loop met the Redis error at the end of the job
    that ran through the outage, logged "found an unhandled exception,
    quitting" and returned; the worker process ended, and with it the
    outbox sweep (the load test then waited for jobs no one ran)."""
    private = PrivateRedis(tmp_path / "redis").start()
    try:
        site = deployment(processes=1, threads=1, workers=1, settings={
            "ckan.redis.url": private.url})
        queue_name = ckan_jobs.add_queue_name_prefix(
            dcor_config.jobs_queue())
        connection = redis.Redis.from_url(private.url)
        queue = rq.Queue(queue_name, connection=connection)
        # a job that is still running when Redis goes away
        queue.enqueue("time.sleep", 4, job_id="through-the-outage")
        wait_for(lambda: job_status(connection, "through-the-outage")
                 == "started", 60, "the job started")
        private.stop()
        time.sleep(8)  # the job ends while Redis is away
        private.start()  # empty, as a restart without persistence
        connection = redis.Redis.from_url(private.url)
        queue = rq.Queue(queue_name, connection=connection)
        queue.enqueue("time.sleep", 0, job_id="after-the-outage")
        wait_for(lambda: job_status(connection, "after-the-outage")
                 == "finished", 90, "a job queued after the outage ran")
        (worker,) = site.workers
        assert worker.poll() is None, site.tail("worker-1")
    finally:
        private.stop()
