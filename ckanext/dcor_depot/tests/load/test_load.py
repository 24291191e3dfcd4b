"""Issue 22 item 5, the load run: through nginx -> uWSGI (4 processes, 4
threads each) with CKAN's default database pool, 20 concurrent clients
make 200 uploads, half resource_create with a file and half direct to S3,
while datasets flip between public and private. During the run S3 is
unreachable for the workers for 45 s (a TCP proxy the test stops) and
Redis restarts empty, after an upload was issued and before its resource
is created.

Every request answers 200; every resource exists once; each step of each
resource completes exactly once (counted in the workers' logs); every
object ends with its dataset's visibility (anonymous GETs); the outbox
empties with no command run by hand."""
import collections
import concurrent.futures
import os
import random
import re
import threading
import time

import pytest
import requests

import ckan.plugins.toolkit as tk
from ckan.tests import factories

from ckanext.dcor_depot import job_queue, naming

from ..conftest import circle_bucket, s3_settings
from ..deployment import site_ini
from ..helpers import client_upload
from .services import PrivateRedis
from .test_outbox import wait_until
from .test_retries import s3_proxy

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

CLIENTS = 20
UPLOADS = 200
DATASETS = 10
OUTAGE = 45  # seconds without S3 for the workers
STEP_LINE = re.compile(r"resource ([0-9a-f-]{36}): (DEPOT_MOVE|S3_UPLOAD|"
                       r"BACKUP|CHECKSUMS) \w+")


class Client:
    """What the concurrent clients share: the site, a token, and every
    answer they got."""

    def __init__(self, site, token):
        self.site = site
        self.headers = {"Authorization": token}
        self.answers = []  # (action, status, text)
        self.lock = threading.Lock()

    def post(self, action, **kwargs):
        response = requests.post(f"{self.site.url}/api/3/action/{action}",
                                 headers=self.headers, timeout=300, **kwargs)
        with self.lock:
            self.answers.append((action, response.status_code,
                                 response.text[:300]))
        return response

    def upload_file(self, dataset_id, number):
        data = os.urandom(1000 + number)
        response = self.post(
            "resource_create",
            data={"package_id": dataset_id, "name": f"f{number}.rtdc"},
            files={"upload": (f"f{number}.rtdc", data)})
        return response.json()["result"]["id"] if response.ok else None

    def issue(self, organization_id, size):
        response = self.post("resource_upload_s3_urls",
                             json={"organization_id": organization_id,
                                   "file_size": size})
        return response.json()["result"] if response.ok else None

    def create_direct(self, dataset_id, rid, number):
        response = self.post(
            "resource_create",
            json={"package_id": dataset_id, "id": rid, "url": "d.rtdc",
                  "name": f"d{number}.rtdc", "url_type": "s3_upload"})
        return rid if response.ok else None

    def upload_direct(self, organization_id, dataset_id, number):
        data = os.urandom(1000 + number)
        urls = self.issue(organization_id, len(data))
        if urls is None:
            return None
        client_upload(urls, data)
        return self.create_direct(dataset_id, urls["resource_id"], number)


def anonymous_status(circle_id, rid):
    endpoint = s3_settings()["dcor_object_store.endpoint_url"].rstrip("/")
    url = f"{endpoint}/{circle_bucket(circle_id)}/" + \
        naming.object_key("resource", rid)
    return requests.get(url, timeout=30).status_code


def test_many_processes_under_load(deployment, tmp_path, s3_client):
    redis = PrivateRedis(tmp_path / "redis").start()
    proxy = s3_proxy()
    try:
        settings = {"ckan.redis.url": redis.url,
                    "ckanext.dcor_depot.job_retry_intervals": "5 10 20 40",
                    "ckanext.dcor_depot.outbox_sweep_interval": "1",
                    "ckanext.dcor_depot.s3_max_attempts": "2"}
        site = deployment(processes=4, threads=4, workers=0,
                          settings=settings)
        # the workers reach S3 through the proxy; the site directly (its
        # requests need S3 for direct uploads, and must answer 200)
        worker_ini = site_ini(tmp_path / "workers.ini", site.ini, {
            "dcor_object_store.endpoint_url": proxy.url})
        site.worker_argv[2] = str(worker_ini)
        site.start_workers(4)

        user = factories.User()
        circle = factories.Organization(
            users=[{"name": user["name"], "capacity": "admin"}])
        token = factories.APIToken(user=user["name"])["token"]
        datasets = [factories.Dataset(owner_org=circle["id"], user=user,
                                      private=bool(n % 2))
                    for n in range(DATASETS)]
        client = Client(site, token)

        # issued (and uploaded) before Redis restarts, created after
        early_data = os.urandom(5000)
        early = client.issue(circle["id"], len(early_data))
        client_upload(early, early_data)

        private = {d["id"]: d["private"] for d in datasets}
        done = threading.Event()

        def flip_visibility():
            randomly = random.Random(22)
            while not done.is_set():
                dataset_id = randomly.choice(list(private))
                private[dataset_id] = not private[dataset_id]
                client.post("package_patch", json={
                    "id": dataset_id, "private": private[dataset_id]})
                time.sleep(0.3)

        finished = []
        events = []

        def outage_and_restart():
            wait_until(lambda: len(finished) >= UPLOADS // 5, 300,
                       "a fifth of the uploads")
            proxy.stop()
            events.append(("s3 down", time.monotonic()))
            wait_until(lambda: len(finished) >= UPLOADS // 2, 300,
                       "half of the uploads")
            redis.stop()
            redis.start()
            events.append(("redis restarted", time.monotonic()))
            time.sleep(max(0.0, OUTAGE - (time.monotonic() - events[0][1])))
            proxy.start()
            events.append(("s3 up", time.monotonic()))

        def one_upload(number):
            dataset = datasets[number % DATASETS]
            if number % 2:
                rid = client.upload_direct(circle["id"], dataset["id"],
                                           number)
            else:
                rid = client.upload_file(dataset["id"], number)
            finished.append(rid)
            return dataset["id"], rid, "direct" if number % 2 else "file"

        flipper = threading.Thread(target=flip_visibility, daemon=True)
        chaos = threading.Thread(target=outage_and_restart, daemon=True)
        flipper.start()
        chaos.start()
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            created = list(pool.map(one_upload, range(UPLOADS)))
        chaos.join(timeout=OUTAGE + 120)
        done.set()
        flipper.join(timeout=60)
        assert [name for name, _ in events] == [
            "s3 down", "redis restarted", "s3 up"]
        # the upload issued before the Redis restart is accepted after it
        early_rid = client.create_direct(datasets[0]["id"],
                                         early["resource_id"], 9999)
        assert early_rid == early["resource_id"]
        created.append((datasets[0]["id"], early_rid, "direct"))

        # every request answered 200
        bad = [answer for answer in client.answers if answer[1] != 200]
        assert not bad, bad[:5]
        assert len(client.answers) >= UPLOADS + UPLOADS // 2 + 2
        # no resource exists that nobody was told about, none twice
        rids = [rid for _, rid, _ in created]
        assert len(set(rids)) == len(rids) == UPLOADS + 1
        for dataset in datasets:
            shown = tk.get_action("package_show")(
                {"ignore_auth": True}, {"id": dataset["id"]})
            assert sorted(r["id"] for r in shown["resources"]) == sorted(
                rid for pid, rid, _ in created if pid == dataset["id"])

        # with no command by hand, every resource completes...
        def complete():
            for dataset in datasets:
                shown = tk.get_action("package_show")(
                    {"ignore_auth": True}, {"id": dataset["id"]})
                if not all(r.get("sha256") and r.get("s3_url")
                           for r in shown["resources"]):
                    return False
            return not job_queue.outbox_rows()
        wait_until(complete, 240, "every resource stored, outbox empty")

        # ... each of its steps exactly once ...
        runs = collections.Counter()
        for name, path in site.logs.items():
            if name.startswith("worker-"):
                for match in STEP_LINE.finditer(path.read_text()):
                    runs[match.groups()] += 1
        expected = collections.Counter()
        for _, rid, route in created:
            for step in (("BACKUP",) if route == "direct"
                         else ("DEPOT_MOVE", "S3_UPLOAD")):
                expected[(rid, step)] = 1
        assert runs == expected, {key: count for key, count in runs.items()
                                  if expected.get(key) != count}

        # ... and every object has its dataset's visibility
        for pid, rid, _ in created:
            want = 403 if private[pid] else 200
            assert anonymous_status(circle["id"], rid) == want, (pid, rid)
    finally:
        proxy.stop()
        redis.stop()
