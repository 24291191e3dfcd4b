"""Direct uploads to S3 with presigned URLs, played by a plain HTTP client,
and their backup to the depot by a real worker."""
import hashlib
import os

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import factories

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.cli import depot as depot_cli
from ckanext.dcor_depot.storage import s3

from ..conftest import circle_bucket, ckan_command, start_worker
from ..helpers import (ask_urls, client_upload, create_s3_resource,
                       file_sha256, files_below, kill_when,
                       make_circle_and_user)

PART = 5 * 1024**2
# the largest part of a presigned upload: files above it get multipart URLs
CLIENT_PART = 10 * 1024**2
pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.ckan_config("ckanext.dcor_depot.s3_part_size", PART),
    pytest.mark.ckan_config("ckanext.dcor_depot.upload_max_part_size",
                            CLIENT_PART),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


@pytest.mark.parametrize("size", [1000, 3 * CLIENT_PART + 123])
def test_direct_upload_is_backed_up(app, run_worker, s3_client, dcor_paths,
                                    size):
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(size)
    urls = ask_urls(app, token, circle["id"], size)["result"]
    rid = urls["resource_id"]
    assert (urls["complete_url"] is None) == (size <= CLIENT_PART)
    client_upload(urls, data)
    bucket = circle_bucket(circle['id'])
    assert not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")

    resource = create_s3_resource(app, token, dataset["id"], rid)["result"]
    assert resource["s3_available"] is True and resource["size"] == size
    run_worker()

    sha256 = hashlib.sha256(data).hexdigest()
    shown = tk.get_action("resource_show")({"ignore_auth": True},
                                           {"id": rid})
    assert shown["sha256"] == sha256
    assert shown["s3_url"].endswith(f"{bucket}/{naming.object_key('resource', rid)}")
    link = naming.resource_path(str(dcor_paths["storage_path"]), rid)
    assert os.path.islink(link)
    target = os.readlink(link)
    assert target.startswith(str(dcor_paths["depots_path"]) + "/users-test/")
    assert file_sha256(target) == sha256
    assert s3.object_tags(s3_client, bucket,
                          naming.object_key("resource", rid))["sha256"] == \
        sha256
    # re-running transfers nothing
    from ckanext.dcor_depot.workflows import direct_upload
    assert direct_upload.backup_object_to_depot(rid) == "done"


def test_missing_object_is_refused(app, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    urls = ask_urls(app, token, circle["id"], 10)["result"]
    body = create_s3_resource(app, token, dataset["id"],
                              urls["resource_id"], status=409)
    assert urls["resource_id"] in str(body["error"])
    shown = tk.get_action("package_show")({"ignore_auth": True},
                                          {"id": dataset["id"]})
    assert shown["resources"] == []


def test_who_may_ask_for_urls(app, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    stranger = factories.User()
    factories.Organization(users=[{"name": stranger["name"],
                                   "capacity": "admin"}])
    stranger_token = factories.APIToken(user=stranger["name"])["token"]
    ask_urls(app, stranger_token, circle["id"], 10, status=403)
    ask_urls(app, None, circle["id"], 10, status=403)
    ask_urls(app, token, "no-such-circle", 10, status=404)
    for bad in (-1, "ten", 10**20, ""):
        body = ask_urls(app, token, circle["id"], bad, status=409)
        assert "file_size" in body["error"]
    # nothing was created in S3 for the refused requests: no upload was
    # started and no bucket made
    bucket = circle_bucket(circle['id'])
    assert bucket not in [b["Name"] for b in
                          s3_client.list_buckets()["Buckets"]]


def test_kill_during_backup(app, worker_ini, s3_client, dcor_paths,
                            tmp_path):
    user, circle, dataset, token = make_circle_and_user()
    size = 200 * 1024**2
    data = os.urandom(size)
    urls = ask_urls(app, token, circle["id"], size)["result"]
    client_upload(urls, data)
    rid = urls["resource_id"]
    create_s3_resource(app, token, dataset["id"], rid)
    del data

    def copying():
        return any(".part-" in p and os.path.getsize(p) > 0
                   for p in files_below(dcor_paths["depots_path"]))

    kill_when(start_worker(worker_ini), copying)
    result = ckan_command(worker_ini, "run-jobs-dcor-depot")
    assert result.returncode == 0, result.stderr[-3000:]
    link = naming.resource_path(str(dcor_paths["storage_path"]), rid)
    assert files_below(dcor_paths["depots_path"]) == [os.readlink(link)]
    bucket = circle_bucket(circle['id'])
    remote = s3.object_tags(s3_client, bucket,
                            naming.object_key("resource", rid))["sha256"]
    assert file_sha256(link) == remote


# an unfinished multipart upload of the browser's API lives 2 days by
# default; here only the URL expiry and the job timeout are at stake
@pytest.mark.ckan_config("ckanext.dcor_depot.multipart_upload_lifetime", 3600)
def test_prune_stale_multipart_uploads(cli, app, s3_client):
    import datetime

    from ckanext.dcor_depot.workflows import stale_uploads

    user, circle, dataset, token = make_circle_and_user()
    ask_urls(app, token, circle["id"], 3 * CLIENT_PART)
    bucket = circle_bucket(circle['id'])
    assert len(s3_client.list_multipart_uploads(Bucket=bucket)["Uploads"]) == 1

    result = cli.invoke(depot_cli.prune_stale_multipart_uploads,
                        ["--initiated-before-days", "1", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "0 stale" in result.output
    # the command refuses any cut-off that could reach a fresh upload, so
    # the workflow is asked directly for uploads started before tomorrow
    client = s3.get_client()
    tomorrow = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(days=1)
    stale = list(stale_uploads.stale_uploads(client, tomorrow))
    assert [u.upload_id for u in stale] == [
        s3_client.list_multipart_uploads(Bucket=bucket)["Uploads"][0][
            "UploadId"]]
    stale_uploads.abort(client, stale[0])
    assert not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_package_revise_route(app, run_worker, s3_client, dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(2048)
    urls = ask_urls(app, token, circle["id"], len(data))["result"]
    rid = urls["resource_id"]
    def revise():
        return app.post(
            "/api/3/action/package_revise",
            json={"match": {"id": dataset["id"]},
                  "update__resources__extend": [{
                      "id": rid, "url": "x.rtdc", "name": "x.rtdc",
                      "url_type": "s3_upload"}]},
            headers={"Authorization": token})

    missing = revise()
    assert missing.status_code == 409 and rid in str(missing.json["error"])
    client_upload(urls, data)
    response = revise()
    assert response.status_code == 200, response.body
    run_worker()
    shown = tk.get_action("resource_show")({"ignore_auth": True},
                                           {"id": rid})
    assert shown["sha256"] == hashlib.sha256(data).hexdigest()
    link = naming.resource_path(str(dcor_paths["storage_path"]), rid)
    assert file_sha256(link) == shown["sha256"]


def test_an_issued_upload_survives_a_redis_restart(app, run_worker,
                                                   s3_client):
    """Issue 22 item 5: the record of an issued id is in PostgreSQL. Before,
    it lived in Redis only, and after a restart without persistence the
    client's upload was refused ("was not issued")."""
    from ckan.lib.redis import connect_to_redis

    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(2000)
    urls = ask_urls(app, token, circle["id"], len(data))["result"]
    client_upload(urls, data)
    connect_to_redis().flushdb()  # this slot's Redis db, as after a restart
    create_s3_resource(app, token, dataset["id"], urls["resource_id"])
    run_worker()
    resource = tk.get_action("resource_show")(
        {"ignore_auth": True}, {"id": urls["resource_id"]})
    assert resource["sha256"] == hashlib.sha256(data).hexdigest()
