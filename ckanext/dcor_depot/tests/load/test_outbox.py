"""Issue 22 item 5: committed work never answers an error, needs no
second database connection after its commit, and a job that could not be
queued is queued by the workers' sweep of the outbox."""
import contextlib
import os
import time

import pytest
import requests
import sqlalchemy.event

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.lib.redis import connect_to_redis

from ckanext.dcor_depot import job_queue

from ..helpers import (ask_urls, client_upload, create_s3_resource,
                       make_circle_and_user, upload_resource)
from .services import PrivateRedis

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


@contextlib.contextmanager
def connections_held():
    """Track how many connections of CKAN's pool are checked out at once
    (CKAN's default pool settings: those of test.ini)."""
    state = {"now": 0, "most": 0, "checkouts": 0}

    def checkout(*_):
        state["now"] += 1
        state["checkouts"] += 1
        state["most"] = max(state["most"], state["now"])

    def checkin(*_):
        state["now"] -= 1

    engine = model.meta.engine
    sqlalchemy.event.listen(engine, "checkout", checkout)
    sqlalchemy.event.listen(engine, "checkin", checkin)
    try:
        yield state
    finally:
        sqlalchemy.event.remove(engine, "checkout", checkout)
        sqlalchemy.event.remove(engine, "checkin", checkin)


def test_requests_hold_one_connection_at_a_time(app):
    """Before: the after-commit hook read the dataset's resources on a
    second connection while the request held its first (a dry pool under
    load, and a 500 after the commit)."""
    _, _, dataset, token = make_circle_and_user(private=False)
    model.Session.remove()
    with connections_held() as held:
        resource = upload_resource(app, token, dataset["id"], b"cells")
    assert held["checkouts"] >= 1 and held["most"] == 1
    for patch in ({"private": True}, {"notes": "edited"},
                  {"private": False}):
        model.Session.remove()
        with connections_held() as held:
            response = app.post("/api/3/action/package_patch",
                                json={"id": dataset["id"], **patch},
                                headers={"Authorization": token})
        assert response.status_code == 200, response.body
        assert held["most"] == 1, patch
    # each asked for its jobs in its own transaction
    kinds = {row["job_id"] for row in job_queue.outbox_rows()}
    assert f"{resource['id']}-depot-move" in kinds
    assert f"{dataset['id']}-visibility" in kinds


def anonymous_status(site_s3, url):
    return requests.get(url, timeout=30).status_code


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    rows = getattr(job_queue, "outbox_rows", lambda: "none")()
    raise AssertionError(f"not within {timeout} s: {what}; outbox: {rows}")


def resource_show(site, token, rid):
    return requests.get(f"{site.url}/api/3/action/resource_show",
                        params={"id": rid}, headers={"Authorization": token},
                        timeout=30).json()["result"]


def test_redis_down_answers_200_and_the_jobs_run_when_it_is_back(
        deployment, tmp_path, s3_client):
    """A request while Redis is unreachable for the site and its worker
    answers 200; its jobs, the visibility change first, run once Redis is
    back, with no command by hand. Before: 500 after the commit, and the
    private dataset's object stayed anonymously readable."""
    redis = PrivateRedis(tmp_path / "redis").start()
    try:
        site = deployment(processes=2, threads=2, workers=1, settings={
            "ckan.redis.url": redis.url,
            "ckanext.dcor_depot.outbox_sweep_interval": "2"})
        user, circle, dataset, token = make_circle_and_user(private=False)
        first = requests.post(
            f"{site.url}/api/3/action/resource_create",
            data={"package_id": dataset["id"], "name": "a.rtdc"},
            files={"upload": ("a.rtdc", b"first cells")},
            headers={"Authorization": token}, timeout=60)
        assert first.status_code == 200, first.text[:300]
        rid = first.json()["result"]["id"]
        stored = wait_until(lambda: resource_show(site, token, rid).get(
            "s3_url"), 120, "the first upload in S3")
        assert requests.get(stored, timeout=30).status_code == 200

        redis.stop()
        flip = requests.post(f"{site.url}/api/3/action/package_patch",
                             json={"id": dataset["id"], "private": True},
                             headers={"Authorization": token}, timeout=60)
        assert flip.status_code == 200, flip.text[:300]
        second = requests.post(
            f"{site.url}/api/3/action/resource_create",
            data={"package_id": dataset["id"], "name": "b.rtdc"},
            files={"upload": ("b.rtdc", b"second cells")},
            headers={"Authorization": token}, timeout=60)
        assert second.status_code == 200, second.text[:300]
        rid2 = second.json()["result"]["id"]
        time.sleep(3)
        # nothing could run: the object is still public
        assert requests.get(stored, timeout=30).status_code == 200

        redis.start()  # empty: whatever was queued is gone too
        wait_until(lambda: requests.get(stored, timeout=30).status_code
                   == 403, 150, "the object of the private dataset closed")
        wait_until(lambda: resource_show(site, token, rid2).get("sha256"),
                   150, "the second upload stored")
        wait_until(lambda: not job_queue.outbox_rows(), 60,
                   "the outbox emptied")
    finally:
        redis.stop()
