"""DCOR-Aid, the DCOR desktop and command-line client, against this site
over HTTP, using DCOR-Aid's own library code (issue: the real DCOR client
works end to end). Real site, real worker, real radosgw; no mocks."""
import hashlib
import os

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import factories

from ..helpers import (ask_urls, client_upload, file_sha256,
                       make_circle_and_user, write_random_file)

import dcoraid.api as dcoraid_api
from dcoraid.api import dataset as dcoraid_dataset
from dcoraid.common import etagsum
from dcoraid.download.job import DownloadJob

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def circle_admin_api(site):
    """A circle, and DCOR-Aid's API client for a new admin of it."""
    user = factories.User()
    circle = factories.Organization(
        users=[{"name": user["name"], "capacity": "admin"}])
    token = factories.APIToken(user=user["name"])["token"]
    return circle, dcoraid_api.CKANAPI(server=site, api_key=token,
                                       ssl_verify=False, caching=False)


def resources_by_name(api, dataset_id):
    return {r["name"]: r for r in
            api.get("package_show", id=dataset_id)["resources"]}


def test_dcoraid_uploads_the_site_verifies_dcoraid_downloads(
        live_site, run_worker, tmp_path, s3_client):
    circle, api = circle_admin_api(live_site)

    # 1. a draft dataset, as DCOR-Aid creates it
    dataset = dcoraid_api.dataset_create(
        {"name": "dcoraid-upload", "title": "Cells via DCOR-Aid",
         "owner_org": circle["name"], "license_id": "CC0-1.0",
         "private": True}, api=api)
    # DCOR sites keep a new dataset in draft (ckanext-dcor_schemas); plain
    # CKAN ignores "state" on create for non-sysadmins, so the owner puts
    # it back to draft, as DCOR-Aid expects
    if dataset["state"] != "draft":
        api.post("package_patch", {"id": dataset["id"], "state": "draft"})
    assert api.get("package_show", id=dataset["id"])["state"] == "draft"

    # 2. one file over 8 MB straight to S3, one through the legacy route
    big = tmp_path / "upload" / "cells.rtdc"
    big.parent.mkdir()
    write_random_file(big, 9 * 1024**2 + 77)
    small = tmp_path / "upload" / "features.tsv"
    small.write_bytes(os.urandom(50_000))
    _, etag = dcoraid_dataset.resource_add(dataset_id=dataset["id"],
                                           path=big, api=api)
    assert etag == etagsum(big)
    dcoraid_dataset.resource_add_upload_legacy_indirect_ckan(
        api=api, resource_path=small, dataset_id=dataset["id"],
        resource_name="features.tsv")

    # DCOR-Aid can verify its direct upload at once: etag, no sha256 yet
    stored = resources_by_name(api, dataset["id"])
    assert stored["cells.rtdc"]["etag"] == etag
    assert stored["cells.rtdc"]["url_type"] == "s3_upload"
    assert not stored["cells.rtdc"].get("sha256")

    # 3. the worker backs up, moves, uploads and hashes
    run_worker()

    # 4. the check DCOR-Aid's UploadJob.task_verify_resources makes
    stored = resources_by_name(api, dataset["id"])
    for name, path in (("cells.rtdc", big), ("features.tsv", small)):
        resource = stored[name]
        assert resource["sha256"] == file_sha256(path), name
        assert resource["size"] == path.stat().st_size
        assert resource["s3_available"] is True
        assert resource["etag"], name
    assert stored["cells.rtdc"]["etag"] == etag

    # 5. activation, as DCOR-Aid does it (package_revise state active)
    dcoraid_dataset.dataset_activate(dataset_id=dataset["id"], api=api)
    run_worker()
    assert api.get("package_show", id=dataset["id"])["state"] == "active"

    # 6. DCOR-Aid's DownloadJob into an empty folder, with its verification
    target = tmp_path / "download"
    target.mkdir()
    for name, path in (("cells.rtdc", big), ("features.tsv", small)):
        job = DownloadJob(api=api, resource_id=stored[name]["id"],
                          download_path=target)
        job.task_download_resource()
        job.task_verify_resource()
        assert job.state == "done", job.traceback
        downloaded = target / "dcoraid-upload" / name
        assert file_sha256(downloaded) == file_sha256(path)


def test_dcoraid_upload_url_request_over_get(live_site, s3_client):
    """DCOR-Aid asks with a GET and string parameters."""
    circle, api = circle_admin_api(live_site)
    urls = api.get("resource_upload_s3_urls", organization_id=circle["id"],
                   file_size=str(3 * 1024**3 + 1))
    # DCOR-Aid's own part plan: four equal parts of at most 1 GiB
    assert len(urls["upload_urls"]) == \
        dcoraid_api.s3_api.compute_upload_part_parameters(
            3 * 1024**3 + 1)["num_parts"]
    assert urls["part_size"] == \
        dcoraid_api.s3_api.compute_upload_part_parameters(
            3 * 1024**3 + 1)["part_size"]
    for bad in ("-5", "0", "1.5", "ten"):
        with pytest.raises(dcoraid_api.errors.APIConflictError,
                           match="file_size: .*positive"):
            api.get("resource_upload_s3_urls", organization_id=circle["id"],
                    file_size=bad)


def test_dcoraid_marker_is_checked_like_ours(app, s3_client):
    """An s3_available claim is accepted only for an issued id whose object
    is in the dataset's own circle bucket; otherwise nothing is created."""
    user, circle, dataset, token = make_circle_and_user()
    other = factories.Organization(
        users=[{"name": user["name"], "capacity": "admin"}])

    def claim(rid):
        return app.post("/api/3/action/package_revise", json={
            "match": {"id": dataset["id"]},
            "update__resources__extend": [{
                "id": rid, "name": "cells.rtdc", "s3_available": True}]},
            headers={"Authorization": token})

    not_uploaded = ask_urls(app, token, circle["id"], 100)["result"]
    elsewhere = ask_urls(app, token, other["id"], 100)["result"]
    client_upload(elsewhere, b"c" * 100)
    for rid, problem in (
            (not_uploaded["resource_id"], "no object was uploaded"),
            (elsewhere["resource_id"], "issued for an upload to another"),
            ("0f0e0d0c-0b0a-4908-8706-050403020100", "was not issued")):
        response = claim(rid)
        assert response.status_code == 409, response.body
        assert problem in str(response.json["error"])
    assert tk.get_action("package_show")(
        {"ignore_auth": True}, {"id": dataset["id"]})["resources"] == []
    # the claim works once the object is there
    client_upload(not_uploaded, b"d" * 100)
    response = claim(not_uploaded["resource_id"])
    assert response.status_code == 200, response.body
    resource, = response.json["result"]["package"]["resources"]
    assert resource["url_type"] == "s3_upload" and resource["s3_available"]
    assert resource["etag"] == hashlib.md5(b"d" * 100).hexdigest()
