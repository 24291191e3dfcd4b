"""Invariant 3 under faults: no sequence of operations leaves a private
dataset's object anonymously readable (safety issue, items 8 and 9)."""
import os
import signal
import time

import pytest
import requests
from rq.registry import FailedJobRegistry, StartedJobRegistry

import ckan.plugins.toolkit as tk
from ckan.lib import jobs as ckan_jobs
from ckan.tests import factories

from ckanext.dcor_depot import job_queue, naming

from ..conftest import circle_bucket, ckan_command, start_worker
from ..helpers import (file_sha256, make_circle_and_user, parts_in_flight,
                      upload_resource, upload_resource_file,
                      write_random_file)

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    # s3_client: every test's buckets go when it ends, so a left-over public
    # object never shows up in another test's reconcile
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins",
                            "s3_client"),
]


def anonymous_status(url):
    return requests.get(url, timeout=10).status_code


def shown(resource_id):
    return tk.get_action("resource_show")({"ignore_auth": True},
                                          {"id": resource_id})


def api(app, token, action, status=200, **data):
    response = app.post(f"/api/3/action/{action}", json=data,
                        headers={"Authorization": token})
    assert response.status_code == status, response.body
    return response.json


def stored_public_resource(app, run_worker, body=b"public cells"):
    user, circle, dataset, token = make_circle_and_user(private=False)
    resource = upload_resource(app, token, dataset["id"], body)
    run_worker()
    url = shown(resource["id"])["s3_url"]
    assert anonymous_status(url) == 200
    return user, circle, dataset, token, shown(resource["id"])


def wait_until_idle(timeout=600):
    """Until the depot queue is empty and no job runs."""
    queue = ckan_jobs.get_queue(tk.config["ckanext.dcor_depot.jobs_queue"])
    started = StartedJobRegistry(queue=queue)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if queue.count == 0 and started.count == 0:
            return
        time.sleep(0.2)
    raise AssertionError("the jobs did not finish")


def test_made_private_during_upload_ends_private(app, worker_ini, s3_client,
                                                 tmp_path):
    """Item 8: two workers, a 300 MB upload, the dataset made private while
    the parts go up. The upload must not tag the object with the
    visibility it read when it started."""
    worker_ini.write_text(worker_ini.read_text().replace(
        "[app:main]\n", "[app:main]\nckanext.dcor_depot.s3_max_concurrency"
                        " = 1\n", 1))
    user, circle, dataset, token = make_circle_and_user(private=False)
    source = tmp_path / "big.rtdc"
    write_random_file(source, 300 * 1024**2)
    resource = upload_resource_file(app, token, dataset["id"], source)
    source.unlink()
    bucket = circle_bucket(circle["id"])

    workers = [start_worker(worker_ini, burst=False) for _ in range(2)]
    try:
        deadline = time.monotonic() + 300
        while not parts_in_flight(s3_client, bucket):
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.02)
        api(app, token, "package_patch", id=dataset["id"], private=True)
        key = naming.object_key("resource", resource["id"])
        assert s3_client.list_multipart_uploads(Bucket=bucket).get(
            "Uploads"), "the upload ended before the dataset went private"
        wait_until_idle()
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(60)
    stored = shown(resource["id"])
    assert stored["s3_available"] and stored["sha256"]
    tags = {t["Key"]: t["Value"] for t in s3_client.get_object_tagging(
        Bucket=bucket, Key=key).get("TagSet", [])}
    assert "public" not in tags and tags["sha256"] == stored["sha256"]
    assert anonymous_status(stored["s3_url"]) == 403


def test_deleted_resource_of_a_public_dataset_is_not_readable(
        app, run_worker, dcor_paths):
    """Item 9: a resource deleted from a public dataset loses its tag; its
    symlink at CKAN's path goes (item 10), the depot copy stays."""
    user, circle, dataset, token, resource = stored_public_resource(
        app, run_worker)
    link = naming.resource_path(str(dcor_paths["storage_path"]),
                                resource["id"])
    depot_file = os.readlink(link)
    api(app, token, "resource_delete", id=resource["id"])
    run_worker()
    assert anonymous_status(resource["s3_url"]) == 403
    assert not os.path.lexists(link)
    assert file_sha256(depot_file) == resource["sha256"]


def test_purge_untags_before_the_rows_go(app, run_worker, dcor_paths):
    """Item 9: dataset_purge calls no hooks; the objects are private at
    once, without a worker."""
    user, circle, dataset, token, resource = stored_public_resource(
        app, run_worker)
    link = naming.resource_path(str(dcor_paths["storage_path"]),
                                resource["id"])
    sysadmin = factories.Sysadmin()
    token = factories.APIToken(user=sysadmin["name"])["token"]
    api(app, token, "dataset_purge", id=dataset["id"])
    assert anonymous_status(resource["s3_url"]) == 403
    assert not os.path.lexists(link)


def test_stranger_cannot_purge(app, run_worker):
    user, circle, dataset, token, resource = stored_public_resource(
        app, run_worker)
    stranger = factories.User()
    stranger_token = factories.APIToken(user=stranger["name"])["token"]
    api(app, stranger_token, "dataset_purge", status=403, id=dataset["id"])
    assert anonymous_status(resource["s3_url"]) == 200


def test_move_to_another_circle_takes_the_objects(app, run_worker,
                                                  s3_client):
    """Item 9: the objects are copied into the new circle's bucket,
    verified, and the old copies deleted."""
    user, circle, dataset, token, resource = stored_public_resource(
        app, run_worker, body=b"moving cells" * 1000)
    other = factories.Organization(
        users=[{"name": user["name"], "capacity": "admin"}])
    old_url = resource["s3_url"]
    api(app, token, "package_patch", id=dataset["id"], owner_org=other["id"])
    run_worker()
    moved = shown(resource["id"])
    new_bucket = circle_bucket(other["id"])
    key = naming.object_key("resource", resource["id"])
    assert moved["s3_url"].endswith(f"/{new_bucket}/{key}")
    body = s3_client.get_object(Bucket=new_bucket, Key=key)["Body"].read()
    assert body == b"moving cells" * 1000
    tags = {t["Key"]: t["Value"] for t in s3_client.get_object_tagging(
        Bucket=new_bucket, Key=key)["TagSet"]}
    assert tags == {"sha256": resource["sha256"], "public": "true"}
    assert anonymous_status(moved["s3_url"]) == 200
    old_bucket = circle_bucket(circle["id"])
    assert s3_client.list_objects_v2(Bucket=old_bucket).get("KeyCount") == 0
    assert anonymous_status(old_url) in (403, 404)

    # moved and made private in one change: nothing readable anywhere
    api(app, token, "package_patch", id=dataset["id"], owner_org=circle["id"],
        private=True)
    run_worker()
    back = shown(resource["id"])
    assert back["s3_url"] == old_url
    assert anonymous_status(back["s3_url"]) == 403
    assert anonymous_status(moved["s3_url"]) in (403, 404)


def test_bulk_make_private_and_delete(app, run_worker):
    """Item 9: the circle's bulk actions (CKAN 2.11 updates the rows by SQL
    and calls no hook)."""
    user, circle, dataset, token, resource = stored_public_resource(
        app, run_worker)
    api(app, token, "bulk_update_private", org_id=circle["id"],
        datasets=[dataset["id"]])
    run_worker()
    assert anonymous_status(resource["s3_url"]) == 403
    api(app, token, "bulk_update_public", org_id=circle["id"],
        datasets=[dataset["id"]])
    run_worker()
    assert anonymous_status(resource["s3_url"]) == 200
    api(app, token, "bulk_update_delete", org_id=circle["id"],
        datasets=[dataset["id"]])
    run_worker()
    assert anonymous_status(resource["s3_url"]) == 403


def test_failed_visibility_job_is_retried(app, run_worker, worker_ini,
                                          tmp_path):
    """Item 9: a visibility job that fails is queued again; what retries
    cannot fix, the reconcile command does."""
    user, circle, dataset, token, resource = stored_public_resource(
        app, run_worker)
    # the dataset goes private while the workers cannot reach S3
    broken = tmp_path / "broken.ini"
    broken.write_text(worker_ini.read_text().replace(
        "dcor_object_store.endpoint_url = ",
        "dcor_object_store.endpoint_url = http://127.0.0.1:9\n"
        "ckanext.dcor_depot.s3_max_attempts = 1\n"
        "ckanext.dcor_depot.job_retry_intervals = 1 1 1 1\n#", 1))
    api(app, token, "package_patch", id=dataset["id"], private=True)
    job_id = f"{dataset['id']}-visibility"
    assert ckan_jobs.job_from_id(job_id)
    # each burst of a worker sweeps the outbox first: the failed job is
    # queued again after its interval, up to five starts
    for _ in range(7):
        result = ckan_command(broken, "dcor-depot-worker", "--burst",
                              tk.config["ckanext.dcor_depot.jobs_queue"])
        assert result.returncode == 0, result.stderr[-3000:]
        time.sleep(1.2)
    rows = {row["job_id"]: row for row in job_queue.outbox_rows()}
    assert rows[job_id]["starts"] == 5
    assert "EndpointConnectionError" in rows[job_id]["last_error"]
    queue = ckan_jobs.get_queue(tk.config["ckanext.dcor_depot.jobs_queue"])
    assert job_id in FailedJobRegistry(queue=queue).get_job_ids()
    assert anonymous_status(resource["s3_url"]) == 200  # still wrong

    fixed = ckan_command(worker_ini, "dcor-depot-reconcile-visibility")
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert "with a wrong public tag, fixed 1" in fixed.stdout
    assert anonymous_status(resource["s3_url"]) == 403


def test_reconcile_fixes_tags_nothing_else_would(cli, app, run_worker,
                                                 s3_client):
    """Item 9: an object of a private dataset tagged public behind the
    extension's back, and an object no resource claims."""
    user, circle, dataset, token = make_circle_and_user(private=True)
    resource = upload_resource(app, token, dataset["id"], b"private cells")
    run_worker()
    resource = shown(resource["id"])
    bucket = circle_bucket(circle["id"])
    key = naming.object_key("resource", resource["id"])
    s3_client.put_object_tagging(Bucket=bucket, Key=key, Tagging={
        "TagSet": [{"Key": "sha256", "Value": resource["sha256"]},
                   {"Key": "public", "Value": "true"}]})
    stray = "resource/abc/def/not-a-resource-of-this-site"
    s3_client.put_object(Bucket=bucket, Key=stray, Body=b"stray",
                         Tagging="public=true")
    stray_url = naming.object_url(
        tk.config["dcor_object_store.endpoint_url"], bucket, stray)
    assert anonymous_status(resource["s3_url"]) == 200
    assert anonymous_status(stray_url) == 200

    from ckanext.dcor_depot.cli import visibility as visibility_cli

    dry = cli.invoke(visibility_cli.reconcile_visibility_command,
                     ["--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"s3://{bucket}/{key}: should be private" in dry.output
    assert f"s3://{bucket}/{stray}: should be private" in dry.output
    assert anonymous_status(resource["s3_url"]) == 200  # dry run

    fixed = cli.invoke(visibility_cli.reconcile_visibility_command, [])
    assert fixed.exit_code == 0, fixed.output
    assert "2 with a wrong public tag, fixed 2" in fixed.output
    assert anonymous_status(resource["s3_url"]) == 403
    assert anonymous_status(stray_url) == 403
    tags = {t["Key"]: t["Value"] for t in s3_client.get_object_tagging(
        Bucket=bucket, Key=key)["TagSet"]}
    assert tags == {"sha256": resource["sha256"]}
    again = cli.invoke(visibility_cli.reconcile_visibility_command, [])
    assert "0 with a wrong public tag" in again.output
