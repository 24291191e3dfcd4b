"""Counters add up over every uWSGI process and the worker (issue 26,
item 4): the reference deployment (nginx -> several uWSGI processes) and
a real worker process, scraped through nginx."""
import concurrent.futures
import re

import pytest
import requests

from ..deploy.test_topology import upload_through, wait_for_sha256
from ..helpers import make_circle_and_user
from .common import TOKEN, samples, value

pytestmark = pytest.mark.usefixtures("clean_db", "clean_queues",
                                     "with_plugins")
DOWNLOADS = 40


def scrape(site):
    response = requests.get(f"{site.url}/metrics", timeout=60, headers={
        "Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text[:500]
    return samples(response.text)


def test_counters_add_up_over_processes_and_the_worker(deployment):
    site = deployment(processes=3, threads=2, workers=1, settings={
        "ckanext.dcor_depot.metrics_token": TOKEN,
        "ckanext.dcor_depot.download_providers": "s3 depot"})
    assert site.uwsgi_apps_ready() == 3
    user, circle, dataset, token = make_circle_and_user(private=False)
    before = scrape(site)
    resource = upload_through(site, token, dataset["id"], b"c" * 5000)
    wait_for_sha256(site, token, resource["id"])
    path = f"/dataset/{dataset['id']}/resource/{resource['id']}/download"

    def download(_):
        answer = requests.get(site.uwsgi_url + path, timeout=60,
                              allow_redirects=False)
        assert answer.status_code == 302, answer.text[:300]
        return answer

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(download, range(DOWNLOADS)))
    after = scrape(site)
    # the downloads were answered by several processes (uWSGI's request
    # log names each one's pid), and one process's scrape counts them all
    answered_by = set(re.findall(
        r"\[pid: (\d+)\|[^\n]*GET " + re.escape(path),
        site.logs["uwsgi"].read_text(errors="replace")))
    assert len(answered_by) >= 2, answered_by
    assert value(after, "dcor_depot_downloads_total", provider="s3") == \
        value(before, "dcor_depot_downloads_total", provider="s3") + DOWNLOADS
    # the worker process counted its runs of the steps
    runs = "dcor_depot_job_duration_seconds_count"
    for step in ("depot", "s3"):
        assert value(after, runs, step=step) == \
            value(before, runs, step=step) + 1
    assert value(after, "dcor_depot_circle_bytes", circle=circle["name"],
                 artifact="resource") == 5000

