"""End to end through a real `ckan jobs worker` process."""
import hashlib
import os

import pytest
import requests

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.lib import jobs as ckan_jobs

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.workflows import depot_move, object_store
from ckanext.dcor_depot.storage import s3

from .conftest import circle_bucket
from .helpers import make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def queued_job_ids():
    return sorted(job.id for job in ckan_jobs.get_queue(
        tk.config["ckanext.dcor_depot.jobs_queue"]).jobs)


def test_upload_moves_to_depot_and_s3(app, run_worker, s3_client,
                                      dcor_paths, ckan_config):
    user, circle, dataset, token = make_circle_and_user(private=True)
    data = os.urandom(3 * 1024**2 + 17)
    resource = upload_resource(app, token, dataset["id"], data)
    rid = resource["id"]

    # the request did no file or S3 work, it only enqueued
    ckan_file = naming.resource_path(str(dcor_paths["storage_path"]), rid)
    assert os.path.isfile(ckan_file) and not os.path.islink(ckan_file)
    assert "s3_available" not in resource
    assert queued_job_ids() == [f"{rid}-depot-move"]  # the move queues the upload

    run_worker()

    depot_file = naming.user_depot_path(
        str(dcor_paths["depots_path"]), "users-test", user["name"],
        circle["name"], dataset["id"], dataset["name"], rid, "cells.rtdc")
    assert os.path.islink(ckan_file)
    assert os.readlink(ckan_file) == depot_file
    with open(depot_file, "rb") as handle:
        assert handle.read() == data

    resource = tk.get_action("resource_show")({"ignore_auth": True},
                                              {"id": rid})
    sha256 = hashlib.sha256(data).hexdigest()
    bucket = circle_bucket(circle['id'])
    key = f"resource/{rid[:3]}/{rid[3:6]}/{rid[6:]}"
    assert resource["s3_available"] is True
    assert resource["sha256"] == sha256
    assert resource["size"] == len(data)
    assert resource["s3_url"] == \
        f"{ckan_config['dcor_object_store.endpoint_url']}/{bucket}/{key}"
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha256
    assert s3.object_tags(s3_client, bucket, key)["sha256"] == sha256
    assert not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")

    # CKAN's download route redirects the owner to the object in S3
    response = app.get(
        f"/dataset/{dataset['id']}/resource/{rid}/download/cells.rtdc",
        headers={"Authorization": token}, follow_redirects=False)
    assert response.status_code == 302
    assert requests.get(response.headers["Location"],
                        timeout=30).content == data


def test_visibility_follows_the_dataset(app, run_worker, s3_client):
    user, circle, dataset, token = make_circle_and_user(private=True)
    resource = upload_resource(app, token, dataset["id"], b"private cells")
    run_worker()
    url = tk.get_action("resource_show")(
        {"ignore_auth": True}, {"id": resource["id"]})["s3_url"]
    assert requests.get(url, timeout=10).status_code == 403

    def patch(**fields):
        response = app.post("/api/3/action/package_patch",
                            json={"id": dataset["id"], **fields},
                            headers={"Authorization": token})
        assert response.status_code == 200, response.body
        run_worker()

    patch(private=False)
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.content == \
        b"private cells"
    patch(private=True)
    assert requests.get(url, timeout=10).status_code == 403


def test_jobs_are_enqueued_only_once_the_change_is_committed(app):
    """A waiting worker must not read the state before the commit: CKAN
    calls after_dataset_update before it commits."""
    user, circle, dataset, token = make_circle_and_user(private=False)
    job_id = f"{dataset['id']}-visibility"

    def make_private():
        tk.get_action("package_patch")(
            {"user": user["name"], "defer_commit": True},
            {"id": dataset["id"], "private": True})

    make_private()
    assert job_id not in queued_job_ids()
    model.Session.rollback()
    assert job_id not in queued_job_ids()  # the change never happened

    make_private()
    assert job_id not in queued_job_ids()
    model.repo.commit()
    assert queued_job_ids() == [job_id]


def test_deleted_dataset_is_not_public(app, run_worker):
    user, circle, dataset, token = make_circle_and_user(private=False)
    resource = upload_resource(app, token, dataset["id"], b"public cells")
    run_worker()
    url = tk.get_action("resource_show")(
        {"ignore_auth": True}, {"id": resource["id"]})["s3_url"]
    assert requests.get(url, timeout=10).status_code == 200
    response = app.post("/api/3/action/package_delete",
                        json={"id": dataset["id"]},
                        headers={"Authorization": token})
    assert response.status_code == 200, response.body
    run_worker()
    assert requests.get(url, timeout=10).status_code == 403


def test_draft_dataset_becomes_public_when_activated(app, run_worker):
    user, circle, dataset, token = make_circle_and_user(
        private=False, state="draft")
    resource = upload_resource(app, token, dataset["id"], b"draft cells")
    run_worker()
    url = tk.get_action("resource_show")(
        {"ignore_auth": True}, {"id": resource["id"]})["s3_url"]
    assert requests.get(url, timeout=10).status_code == 403
    response = app.post("/api/3/action/package_patch",
                        json={"id": dataset["id"], "state": "active"},
                        headers={"Authorization": token})
    assert response.status_code == 200, response.body
    run_worker()
    assert requests.get(url, timeout=10).status_code == 200


def test_upload_follows_a_failed_move(app, worker_ini, run_worker,
                                      dcor_paths):
    """The move queues the upload even when it fails: the file is then
    uploaded from CKAN's path, where it stayed."""
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(5000)
    resource = upload_resource(app, token, dataset["id"], data)
    blocker = worker_ini.parent / "a-file-not-a-folder"
    blocker.write_text("")
    worker_ini.write_text(worker_ini.read_text().replace(
        f"ckanext.dcor_depot.depots_path = {dcor_paths['depots_path']}",
        f"ckanext.dcor_depot.depots_path = {blocker / 'depots'}"))
    run_worker()

    ckan_file = naming.resource_path(str(dcor_paths["storage_path"]),
                                     resource["id"])
    assert os.path.isfile(ckan_file) and not os.path.islink(ckan_file)
    shown = tk.get_action("resource_show")({"ignore_auth": True},
                                           {"id": resource["id"]})
    assert shown["s3_available"] is True
    assert shown["sha256"] == hashlib.sha256(data).hexdigest()


def test_no_jobs_for_links_or_twice(app, run_worker):
    user, circle, dataset, token = make_circle_and_user()
    response = app.post("/api/3/action/resource_create",
                        json={"package_id": dataset["id"],
                              "url": "https://example.org/data.rtdc"},
                        headers={"Authorization": token})
    assert response.status_code == 200
    assert queued_job_ids() == []

    resource = upload_resource(app, token, dataset["id"], b"x" * 10)
    from ckanext.dcor_depot import jobs
    jobs.enqueue_resource_jobs(resource["id"])  # already queued: no-op
    assert queued_job_ids() == [f"{resource['id']}-depot-move"]


def test_rerun_changes_nothing(app, run_worker, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    resource = upload_resource(app, token, dataset["id"], b"cells" * 1000)
    run_worker()
    before = tk.get_action("resource_show")({"ignore_auth": True},
                                            {"id": resource["id"]})
    assert depot_move.move_resource_to_depot(resource["id"]) == "done"
    result = object_store.store_resource_in_object_store(resource["id"])
    assert not result.stored.uploaded and not result.fields_changed
    after = tk.get_action("resource_show")({"ignore_auth": True},
                                           {"id": resource["id"]})
    assert after["metadata_modified"] == before["metadata_modified"]
