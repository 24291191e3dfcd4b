"""What clients may send with resources (safety issue, items 4, 10, 11
and 12): fields the site sets, client-chosen ids, direct uploads."""
import hashlib
import io
import os
import uuid

import pytest
import requests

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.tests import factories

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.storage import depot

from ..conftest import ckan_command, circle_bucket
from ..helpers import (ask_urls, client_upload, create_s3_resource,
                       file_sha256, make_circle_and_user, upload_directly,
                       upload_resource)

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.ckan_config("ckanext.dcor_depot.upload_max_part_size",
                            10 * 1024**2),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def api(app, token, action, status=200, **data):
    response = app.post(f"/api/3/action/{action}", json=data,
                        headers={"Authorization": token} if token else {})
    assert response.status_code == status, response.body
    return response.json


def shown(resource_id):
    return tk.get_action("resource_show")({"ignore_auth": True},
                                          {"id": resource_id})


# Item 10: client-chosen ids

def test_id_of_another_datasets_resource_is_refused(app, run_worker):
    user, circle, dataset, token = make_circle_and_user()
    resource = upload_resource(app, token, dataset["id"], b"cells")
    other = factories.Dataset(owner_org=circle["id"], user=user)
    body = api(app, token, "resource_create", status=409,
               package_id=other["id"], id=resource["id"], url="x")
    assert f"resource id {resource['id']} is already used" in str(body)
    assert shown(resource["id"])["package_id"] == dataset["id"]


def test_purged_resource_id_is_not_adopted(app, run_worker, dcor_paths,
                                           s3_client):
    """A purged resource's object (and its symlink, were it left) must not
    be adopted by a new resource of a public dataset."""
    user, circle, dataset, token = make_circle_and_user(private=True)
    resource = upload_resource(app, token, dataset["id"], b"secret cells")
    run_worker()
    stored = shown(resource["id"])
    tk.get_action("dataset_purge")({"ignore_auth": True},
                                   {"id": dataset["id"]})
    public = factories.Dataset(owner_org=circle["id"], user=user,
                               private=False)
    body = api(app, token, "resource_create", status=409,
               package_id=public["id"], id=resource["id"], url="cells.rtdc",
               url_type="upload")
    assert "already has an object" in str(body)
    assert requests.get(stored["s3_url"], timeout=10).status_code == 403
    # a left-over file at CKAN's path is refused as well
    fresh = str(uuid.uuid4())
    path = naming.resource_path(str(dcor_paths["storage_path"]), fresh)
    os.makedirs(os.path.dirname(path))
    os.symlink("/nonexistent", path)
    body = api(app, token, "resource_create", status=409,
               package_id=public["id"], id=fresh, url="x")
    assert "file left at CKAN's path" in str(body)


def test_non_canonical_ids(app):
    user, circle, dataset, token = make_circle_and_user()
    fresh = str(uuid.uuid4())
    created = api(app, token, "resource_create", package_id=dataset["id"],
                  id=fresh.upper(), url="https://example.org/a.rtdc")
    assert created["result"]["id"] == fresh
    body = api(app, token, "resource_create", status=409,
               package_id=dataset["id"], id="my-own-id", url="x")
    assert "is not a UUID" in str(body)


def test_run_jobs_reports_a_bad_id_and_goes_on(app, worker_ini):
    user, circle, dataset, token = make_circle_and_user()
    good = upload_resource(app, token, dataset["id"], b"good cells")
    # a row from before ids were checked, in a dataset of its own (CKAN
    # 2.11 refuses to update a dataset holding one)
    legacy_dataset = factories.Dataset(owner_org=circle["id"], user=user)
    package = model.Package.get(legacy_dataset["id"])
    legacy = model.Resource(package_id=package.id, url="legacy.rtdc",
                            url_type="upload", name="legacy.rtdc")
    legacy.id = "LEGACY-ID"
    legacy.position = 1
    model.Session.add(legacy)
    model.repo.commit()
    result = ckan_command(worker_ini, "run-jobs-dcor-depot")
    assert "LEGACY-ID: skipped: not a valid resource id" in result.stderr
    assert f"{good['id']}: s3 uploaded" in result.stdout
    assert shown(good["id"])["sha256"] == hashlib.sha256(
        b"good cells").hexdigest()


# Items 11 and 18: fields the site sets

@pytest.mark.parametrize("field,value", [
    ("sha256", "0" * 64), ("s3_available", True), ("etag", "abc"),
    ("s3_url", "http://elsewhere/b/k")])
def test_client_cannot_claim_site_fields(app, field, value):
    user, circle, dataset, token = make_circle_and_user()
    body = api(app, token, "resource_create", status=409,
               package_id=dataset["id"], url="https://example.org/a",
               **{field: value})
    # s3_available alone is DCOR-Aid's marker of a direct upload
    assert (f"{field} is set by the site" if field != "s3_available" else
            "needs the resource id from resource_upload_s3_urls") in str(body)
    assert tk.get_action("package_show")(
        {"ignore_auth": True}, {"id": dataset["id"]})["resources"] == []


def test_site_fields_survive_an_update_without_them(app, run_worker):
    user, circle, dataset, token = make_circle_and_user()
    resource = upload_resource(app, token, dataset["id"], b"cells")
    run_worker()
    stored = shown(resource["id"])
    # package_update with a resource dict that leaves the fields out
    package = tk.get_action("package_show")({"ignore_auth": True},
                                            {"id": dataset["id"]})
    package["resources"] = [{"id": stored["id"], "name": "renamed.rtdc",
                             "url": stored["url"]}]
    api(app, token, "package_update", **package)
    after = shown(resource["id"])
    assert after["name"] == "renamed.rtdc"
    for field in ("sha256", "s3_available", "s3_url", "size", "etag",
                  "url_type"):
        assert after[field] == stored[field], field
    body = api(app, token, "resource_patch", status=409, id=stored["id"],
               sha256="0" * 64)
    assert "sha256 of resource" in str(body)


# Item 11: presigned uploads

def test_presigned_urls_take_exactly_the_announced_bytes(app, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    single = ask_urls(app, token, circle["id"], 1000)["result"]
    url = single["upload_urls"][0]
    assert "X-Amz-Expires=3600" in url and "content-length" in url
    assert requests.put(url, data=b"x" * 1001, timeout=30).status_code == 403
    assert requests.put(url, data=b"x" * 999, timeout=30).status_code == 403
    multi = ask_urls(app, token, circle["id"], 25 * 1024**2)["result"]
    assert len(multi["upload_urls"]) == 3
    too_big = b"x" * (multi["part_size"] + 1)
    assert requests.put(multi["upload_urls"][0], data=too_big,
                        timeout=60).status_code == 403
    # they go to a staging key, never to the resource's key
    for urls in (single, multi):
        assert f"/staging/{urls['resource_id'][:3]}/" in \
            urls["upload_urls"][0]


@pytest.mark.ckan_config("ckanext.dcor_depot.upload_url_expiry", 120)
def test_upload_url_expiry_is_configured(app, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    urls = ask_urls(app, token, circle["id"], 1000)["result"]
    assert "X-Amz-Expires=120" in urls["upload_urls"][0]
    assert urls["expires_in"] == 120


@pytest.mark.ckan_config("ckan.max_resource_size", 1)
def test_site_size_limit_applies(app, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    ask_urls(app, token, circle["id"], 1024**2)
    body = ask_urls(app, token, circle["id"], 1024**2 + 1, status=409)
    assert "ckan.max_resource_size" in str(body["error"])


def test_reput_after_acceptance_cannot_replace_the_object(app, run_worker,
                                                          s3_client):
    user, circle, dataset, token = make_circle_and_user()
    original = os.urandom(2000)
    urls = ask_urls(app, token, circle["id"], len(original))["result"]
    client_upload(urls, original)
    rid = urls["resource_id"]
    create_s3_resource(app, token, dataset["id"], rid)
    run_worker()
    # the URL still lives, but it only reaches the staging key
    assert requests.put(urls["upload_urls"][0], data=os.urandom(2000),
                        timeout=30).status_code == 200
    bucket = circle_bucket(circle["id"])
    key = naming.object_key("resource", rid)
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert body == original
    assert shown(rid)["sha256"] == hashlib.sha256(original).hexdigest()


def test_direct_upload_needs_an_issued_id_in_this_circle(app, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    other = factories.Organization(
        users=[{"name": user["name"], "capacity": "admin"}])
    urls = ask_urls(app, token, other["id"], 100)["result"]
    client_upload(urls, b"c" * 100)
    body = create_s3_resource(app, token, dataset["id"],
                              urls["resource_id"], status=409)
    assert "issued for an upload to another circle" in str(body)
    body = create_s3_resource(app, token, dataset["id"], str(uuid.uuid4()),
                              status=409)
    assert "was not issued by resource_upload_s3_urls" in str(body)
    assert tk.get_action("package_show")(
        {"ignore_auth": True}, {"id": dataset["id"]})["resources"] == []


# Item 12: the S3 check comes after the authorisation check

def test_strangers_learn_nothing_about_objects(app, s3_client):
    user, circle, dataset, token = make_circle_and_user()
    urls = ask_urls(app, token, circle["id"], 10)["result"]
    client_upload(urls, b"0123456789")
    stranger = factories.User()
    stranger_token = factories.APIToken(user=stranger["name"])["token"]
    for rid in (urls["resource_id"], str(uuid.uuid4())):
        api(app, stranger_token, "package_create", status=403,
            name=f"d-{rid[:8]}", owner_org=circle["id"],
            resources=[{"id": rid, "url": "x", "url_type": "s3_upload"}])
        api(app, stranger_token, "package_update", status=403,
            id=dataset["id"], name=dataset["name"], owner_org=circle["id"],
            resources=[{"id": rid, "url": "x", "url_type": "s3_upload"}])


def test_upload_through_package_revise_gets_the_jobs(app, run_worker,
                                                    dcor_paths):
    """Item 12: files uploaded through package_create/update (here
    package_revise, DCOR-Aid's legacy route) go to the depot and S3 like
    those of resource_create."""
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(4000)
    response = app.post(
        "/api/3/action/package_revise",
        data={"match__id": dataset["id"],
              "update__resources__extend": '[{"name": "cells.rtdc"}]',
              "update__resources__-1__upload": (io.BytesIO(data),
                                                "cells.rtdc")},
        headers={"Authorization": token},
        content_type="multipart/form-data")
    assert response.status_code == 200, response.body
    rid = response.json["result"]["package"]["resources"][0]["id"]
    run_worker()
    stored = shown(rid)
    assert stored["sha256"] == hashlib.sha256(data).hexdigest()
    assert stored["s3_available"]
    link = naming.resource_path(str(dcor_paths["storage_path"]), rid)
    assert os.path.islink(link) and file_sha256(link) == stored["sha256"]


# Item 4: the backup never overwrites a file it did not write

def test_owner_cannot_upload_a_file_to_a_direct_upload(app, run_worker,
                                                       dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(3000)
    rid = upload_directly(app, token, circle["id"], dataset["id"], data)
    response = app.post(
        "/api/3/action/resource_update",
        data={"id": rid, "upload": (io.BytesIO(b"other bytes"), "x.rtdc")},
        headers={"Authorization": token},
        content_type="multipart/form-data")
    assert response.status_code == 409, response.body
    link = naming.resource_path(str(dcor_paths["storage_path"]), rid)
    assert not os.path.lexists(link)
    run_worker()
    assert file_sha256(link) == hashlib.sha256(data).hexdigest()


def test_backup_refuses_to_replace_a_foreign_file(app, run_worker,
                                                  dcor_paths):
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(3000)
    rid = upload_directly(app, token, circle["id"], dataset["id"], data)
    link = naming.resource_path(str(dcor_paths["storage_path"]), rid)
    os.makedirs(os.path.dirname(link))
    with open(link, "wb") as handle:
        handle.write(b"a file someone put here")
    from ckanext.dcor_depot.workflows import direct_upload

    with pytest.raises(depot.DepotError, match="refusing to replace"):
        direct_upload.backup_object_to_depot(rid)
    with open(link, "rb") as handle:
        assert handle.read() == b"a file someone put here"
    assert not shown(rid).get("sha256")
