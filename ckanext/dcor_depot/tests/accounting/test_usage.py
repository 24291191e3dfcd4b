"""Storage per circle from the database, kept current by the jobs and
reconciled with the buckets (issue 26, item 1), on the real stack."""
import uuid

import pytest

from ckan.tests import factories

from ckanext.dcor_depot import naming

from ..conftest import ckan_command, circle_bucket
from ..helpers import (ask_urls, client_upload, create_s3_resource,
                       make_circle_and_user, upload_resource)

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def api(app, token, action, status=200, **data):
    response = app.post(f"/api/3/action/{action}", json=data,
                        headers={"Authorization": token} if token else {})
    assert response.status_code == status, response.body
    return response.json


def storage(app, token, circle_id):
    return api(app, token, "circle_storage_show", id=circle_id)["result"]


def test_jobs_keep_the_figures_current(app, run_worker):
    user, circle, dataset, token = make_circle_and_user()
    before = storage(app, token, circle["name"])
    assert before["used_bytes"] == 0 and before["datasets"] == 1
    upload_resource(app, token, dataset["id"], b"x" * 1000)
    upload_resource(app, token, dataset["id"], b"y" * 500, name="b.rtdc")
    other = factories.Dataset(owner_org=circle["id"], user=user)
    upload_resource(app, token, other["id"], b"z" * 200)
    run_worker()
    figures = storage(app, token, circle["id"])
    assert figures["used_bytes"] == 1700
    assert figures["by_artifact"]["resource"] == {"bytes": 1700, "files": 3}
    assert figures["by_artifact"]["staging"] == {"bytes": 0, "files": 0}
    assert (figures["datasets"], figures["resources"]) == (2, 3)
    assert [(d["id"], d["bytes"], d["files"])
            for d in figures["largest_datasets"]] == [
        (dataset["id"], 1500, 2), (other["id"], 200, 1)]
    assert figures["quota_bytes"] == 0 and figures["as_of"].endswith("Z")


@pytest.mark.ckan_config("ckanext.dcor_depot.circle_quota_bytes", 10**12)
def test_an_issued_upload_is_reserved_until_accepted(app, run_worker):
    user, circle, dataset, token = make_circle_and_user()
    data = b"d" * 4096
    urls = ask_urls(app, token, circle["id"], len(data))["result"]
    figures = storage(app, token, circle["id"])
    assert (figures["reserved_bytes"], figures["reserved_uploads"]) == \
        (4096, 1)
    assert figures["used_bytes"] == 0 and figures["quota_bytes"] == 10**12
    client_upload(urls, data)
    create_s3_resource(app, token, dataset["id"], urls["resource_id"])
    figures = storage(app, token, circle["id"])
    assert figures["reserved_bytes"] == 0
    assert figures["by_artifact"]["staging"] == {"bytes": 4096, "files": 1}
    assert figures["by_artifact"]["resource"] == {"bytes": 4096, "files": 1}
    run_worker()  # the backup removes the staging upload
    figures = storage(app, token, circle["id"])
    assert figures["by_artifact"]["staging"] == {"bytes": 0, "files": 0}
    assert figures["used_bytes"] == 4096


def test_reconcile_corrects_drift_made_behind_the_extensions_back(
        app, run_worker, worker_ini, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    kept = upload_resource(app, token, dataset["id"], b"k" * 3000)
    lost = upload_resource(app, token, dataset["id"], b"l" * 700,
                           name="lost.rtdc")
    run_worker()
    bucket = circle_bucket(circle["id"])
    s3_client.put_object(Bucket=bucket, Body=b"p" * 250,
                         Key=naming.object_key("preview", kept["id"]))
    s3_client.put_object(Bucket=bucket, Body=b"not ours", Key="notes.txt")
    s3_client.delete_object(Bucket=bucket,
                            Key=naming.object_key("resource", lost["id"]))
    assert storage(app, token, circle["id"])["used_bytes"] == 3700

    result = ckan_command(worker_ini, "dcor-depot-usage", "--reconcile")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{circle['name']}: drift -450 bytes" in result.stdout
    assert "in 2 objects, corrected" in result.stdout
    assert "1 circles had drift, -450 bytes in all" in result.stdout
    figures = storage(app, token, circle["id"])
    assert figures["used_bytes"] == 3250
    assert figures["by_artifact"]["preview"] == {"bytes": 250, "files": 1}
    assert figures["reconciled_at"] is not None

    again = ckan_command(worker_ini, "dcor-depot-usage", "--reconcile")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "0 circles had drift, +0 bytes in all" in again.stdout
    assert "drift " not in again.stdout.split("reconciled")[0]


def test_members_and_sysadmins_see_figures_others_do_not(app):
    user, circle, dataset, token = make_circle_and_user()
    member = factories.User()
    sysadmin = factories.Sysadmin()
    admin_token = factories.APIToken(user=sysadmin["name"])["token"]
    api(app, admin_token, "member_create", id=circle["id"],
        object=member["name"], object_type="user", capacity="member")
    member_token = factories.APIToken(user=member["name"])["token"]
    stranger_token = factories.APIToken(user=factories.User()["name"])[
        "token"]
    assert storage(app, member_token, circle["id"])["datasets"] == 1
    assert storage(app, admin_token, circle["id"])["datasets"] == 1
    api(app, stranger_token, "circle_storage_show", status=403,
        id=circle["id"])
    api(app, None, "circle_storage_show", status=403, id=circle["id"])
    api(app, token, "circle_storage_show", status=404, id="no-such-circle")
    api(app, token, "circle_storage_show", status=409)

    api(app, token, "site_storage_show", status=403)
    site = api(app, admin_token, "site_storage_show")["result"]
    assert [c["name"] for c in site["circles"]] == [circle["name"]]
    assert site["totals"]["datasets"] == 1


def test_usage_names_an_unknown_circle(worker_ini):
    result = ckan_command(worker_ini, "dcor-depot-usage", "no-such-circle")
    assert result.returncode != 0
    assert "no such circle: no-such-circle" in result.stderr
