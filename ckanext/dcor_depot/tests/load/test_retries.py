"""Issue 22 item 5: a job that fails on a transient error (here S3
unreachable: a TCP proxy in front of the test S3 server that the test
stops and starts) is queued again by itself with back-off, by real
workers, until it completes; one that keeps failing stops at the cap and
is left for `ckan run-jobs-dcor-depot`."""
import time
import urllib.parse

import pytest
import requests
from rq.registry import FailedJobRegistry

import ckan.plugins.toolkit as tk
from ckan.lib import jobs as ckan_jobs

from ckanext.dcor_depot import job_queue

from ..conftest import ckan_command, s3_settings
from ..helpers import make_circle_and_user
from .services import TcpProxy
from .test_outbox import resource_show, wait_until

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def s3_proxy() -> TcpProxy:
    endpoint = urllib.parse.urlsplit(
        s3_settings()["dcor_object_store.endpoint_url"])
    return TcpProxy(endpoint.hostname, endpoint.port or 80).start()


def upload(site, token, dataset_id, name, data):
    response = requests.post(
        f"{site.url}/api/3/action/resource_create",
        data={"package_id": dataset_id, "name": name},
        files={"upload": (name, data)},
        headers={"Authorization": token}, timeout=60)
    assert response.status_code == 200, response.text[:300]
    return response.json()["result"]["id"]


def site_queue():
    return tk.config["ckanext.dcor_depot.jobs_queue"]


def starts(job_id):
    rows = {row["job_id"]: row for row in job_queue.outbox_rows()}
    return rows.get(job_id, {}).get("starts", 0)


def test_jobs_complete_after_an_s3_outage_by_themselves(deployment,
                                                        s3_client):
    proxy = s3_proxy()
    try:
        site = deployment(processes=2, threads=2, workers=2, settings={
            "dcor_object_store.endpoint_url": proxy.url,
            "ckanext.dcor_depot.s3_max_attempts": "1",
            "ckanext.dcor_depot.job_retry_intervals": "3 6 12 24",
            "ckanext.dcor_depot.outbox_sweep_interval": "1"})
        _, _, dataset, token = make_circle_and_user(private=False)
        proxy.stop()
        rids = [upload(site, token, dataset["id"], f"{n}.rtdc",
                       f"cells {n}".encode()) for n in range(4)]
        # every upload job failed at least once while S3 was away
        failed = set()

        def all_failed():
            failed.update(FailedJobRegistry(
                queue=ckan_jobs.get_queue(site_queue())).get_job_ids())
            return all(f"{rid}-depot-upload" in failed for rid in rids)
        wait_until(all_failed, 60, "the upload jobs failed")
        assert not any(resource_show(site, token, rid).get("s3_url")
                       for rid in rids)
        proxy.start()
        for rid in rids:
            url = wait_until(lambda: resource_show(site, token, rid).get(
                "s3_url"), 120, f"{rid} in S3")
            assert requests.get(url, timeout=30).status_code == 200
        wait_until(lambda: not job_queue.outbox_rows(), 60,
                   "the outbox emptied")
    finally:
        proxy.stop()


def test_a_job_that_keeps_failing_stops_at_the_cap(deployment, worker_ini,
                                                   s3_client, tmp_path):
    proxy = s3_proxy()
    try:
        settings = {"dcor_object_store.endpoint_url": proxy.url,
                    "ckanext.dcor_depot.s3_max_attempts": "1",
                    "ckanext.dcor_depot.job_retry_intervals": "1 1 1 1",
                    "ckanext.dcor_depot.outbox_sweep_interval": "1"}
        site = deployment(processes=1, threads=2, workers=1,
                          settings=settings)
        _, _, dataset, token = make_circle_and_user(private=False)
        proxy.stop()
        rid = upload(site, token, dataset["id"], "a.rtdc", b"cells")
        job = f"{rid}-depot-upload"
        wait_until(lambda: starts(job) == 5, 90, "five starts")
        time.sleep(6)  # several sweeps later: no sixth start
        assert starts(job) == 5
        # left for the operator's command, which completes it
        proxy.start()
        result = ckan_command(site.ini, "run-jobs-dcor-depot", timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        assert resource_show(site, token, rid).get("s3_url")
        assert not job_queue.outbox_rows()
    finally:
        proxy.stop()
