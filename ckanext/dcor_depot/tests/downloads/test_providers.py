"""Downloads through providers (part 1): the S3 redirect, the depot
stream with Range, another plugin's provider, authorization."""
import hashlib
import os
import re

import pytest
import requests

import ckan.plugins.toolkit as tk
from ckan.tests import factories

from ..conftest import ckan_command
from ..helpers import make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins",
                            "dcor_depot dcor_depot_test_protocol"),
    pytest.mark.ckan_config("ckanext.dcor_depot.download_providers",
                            "s3 depot testproto"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def download(app, dataset_id, rid, token=None, name="cells.rtdc",
             headers=None):
    return app.get(f"/dataset/{dataset_id}/resource/{rid}/download/{name}",
                   headers={**({"Authorization": token} if token else {}),
                            **(headers or {})},
                   follow_redirects=False)


def api(app, token, action, **data):
    response = app.post(f"/api/3/action/{action}", json=data,
                        headers={"Authorization": token})
    assert response.status_code == 200, response.body
    return response.json["result"]


def test_private_resource_redirects_its_owner_only(app, run_worker,
                                                   s3_client):
    user, circle, dataset, token = make_circle_and_user(private=True)
    data = os.urandom(300_000)
    resource = upload_resource(app, token, dataset["id"], data)
    run_worker()
    owner = download(app, dataset["id"], resource["id"], token)
    assert owner.status_code == 302
    location = owner.headers["Location"]
    assert "X-Amz-Signature=" in location and \
        "response-content-disposition" in location
    assert set(owner.headers["Cache-Control"].split(", ")) == {
        "private", "no-store"}
    fetched = requests.get(location, timeout=60)
    assert fetched.content == data
    assert 'filename="cells.rtdc"' in fetched.headers["Content-Disposition"]

    bucket_url = tk.config["dcor_object_store.endpoint_url"]
    stranger = factories.User()
    stranger_token = factories.APIToken(user=stranger["name"])["token"]
    for who in (None, stranger_token):
        denied = download(app, dataset["id"], resource["id"], who)
        assert denied.status_code == 404
        assert "Location" not in denied.headers
        assert bucket_url not in denied.get_data(as_text=True)


def test_public_resource_redirects_anyone(app, run_worker, s3_client):
    user, circle, dataset, token = make_circle_and_user(private=True)
    data = os.urandom(5000)
    resource = upload_resource(app, token, dataset["id"], data)
    run_worker()
    api(app, token, "package_patch", id=dataset["id"], private=False)
    run_worker()
    anonymous = download(app, dataset["id"], resource["id"])
    assert anonymous.status_code == 302
    assert requests.get(anonymous.headers["Location"],
                        timeout=60).content == data


def test_local_file_streams_with_ranges(app, dcor_paths):
    """No worker ran: the file is only at CKAN's path, no object yet."""
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(100_000)
    resource = upload_resource(app, token, dataset["id"], data)
    whole = download(app, dataset["id"], resource["id"], token)
    assert whole.status_code == 200 and whole.get_data() == data
    assert whole.headers["Content-Length"] == str(len(data))
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["ETag"] and whole.headers["Last-Modified"]
    part = download(app, dataset["id"], resource["id"], token,
                    headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.get_data() == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    tail = download(app, dataset["id"], resource["id"], token,
                    headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.get_data() == data[-5:]
    beyond = download(app, dataset["id"], resource["id"], token,
                      headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    for bad in ("bytes=abc", "bytes=0-1,5-6", "bytes=9-3"):
        answer = download(app, dataset["id"], resource["id"], token,
                          headers={"Range": bad})
        assert answer.status_code == 400, bad
        text = answer.get_data(as_text=True)
        assert text.startswith("malformed Range header") and \
            text.count("\n") == 1


def test_depot_etag_is_the_sha256(app, run_worker, ckan_config,
                                  monkeypatch):
    # (a mark would lose against the module's)
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.download_providers",
                        ["depot"])
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(5000)
    resource = upload_resource(app, token, dataset["id"], data)
    run_worker()
    answer = download(app, dataset["id"], resource["id"], token)
    assert answer.status_code == 200 and answer.get_data() == data
    assert answer.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    again = download(app, dataset["id"], resource["id"], token,
                     headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.ckan_config("ckanext.dcor_depot.download_accel_redirect",
                         "/_dcor_storage/")
def test_depot_hands_the_file_to_nginx(app, run_worker, dcor_paths,
                                       ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.download_providers",
                        ["depot"])
    user, circle, dataset, token = make_circle_and_user()
    resource = upload_resource(app, token, dataset["id"], b"cells" * 100)
    run_worker()
    answer = download(app, dataset["id"], resource["id"], token)
    rid = resource["id"]
    assert answer.status_code == 200 and answer.get_data() == b""
    assert answer.headers["X-Accel-Redirect"] == \
        f"/_dcor_storage/resources/{rid[:3]}/{rid[3:6]}/{rid[6:]}"
    assert "cells.rtdc" in answer.headers["Content-Disposition"]


def test_another_plugins_provider_serves_its_protocol(app):
    user, circle, dataset, token = make_circle_and_user()
    resource = api(app, token, "resource_create", package_id=dataset["id"],
                   url="testproto://store/cells", name="cells.rtdc")
    answer = download(app, dataset["id"], resource["id"], token)
    assert answer.status_code == 200
    assert answer.headers["X-Served-By"] == "testproto"
    assert answer.get_data() == b"bytes of testproto://store/cells\n" * 100
    # a plain link keeps CKAN's behaviour: a redirect to the link
    link = api(app, token, "resource_create", package_id=dataset["id"],
               url="https://example.org/cells.rtdc", name="link.rtdc")
    answer = download(app, dataset["id"], link["id"], token)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "https://example.org/cells.rtdc"


def test_wrong_ids_get_404(app, run_worker):
    user, circle, dataset, token = make_circle_and_user()
    resource = upload_resource(app, token, dataset["id"], b"cells")
    other = factories.Dataset(owner_org=circle["id"], user=user)
    for dataset_id, rid in ((dataset["id"], "nosuch"),
                            ("nosuch", resource["id"]),
                            (other["id"], resource["id"])):
        answer = download(app, dataset_id, rid, token)
        assert answer.status_code == 404, (dataset_id, rid)
        assert "Location" not in answer.headers


@pytest.mark.parametrize("key, value", [
    ("download_providers", "s3 nosuch"), ("download_providers", ""),
    ("archive_providers", "depot nosuch")])
def test_unknown_provider_stops_startup(worker_ini, tmp_path, key, value):
    ini = tmp_path / "bad.ini"
    # the worker's ini may set the key already (the test's own value)
    text = re.sub(rf"(?m)^ckanext\.dcor_depot\.{key} = .*\n", "",
                  worker_ini.read_text())
    ini.write_text(text.replace(
        "[app:main]\n", f"[app:main]\nckanext.dcor_depot.{key} = {value}\n",
        1))
    result = ckan_command(ini, "jobs", "list")
    assert result.returncode != 0
    assert f"ckanext.dcor_depot.{key}" in result.stderr
    assert "nosuch" in result.stderr or "empty list" in result.stderr
