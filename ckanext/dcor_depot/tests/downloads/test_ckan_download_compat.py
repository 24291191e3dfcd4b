"""What CKAN's own download does, done by every provider (issue 23 items
12 and 13): the resource's mimetype as Content-Type, also in the S3
redirect, and CKAN's resource_download signal once per download and once
per archive member."""
import io
import os
import urllib.parse
import zipfile

import pytest
import requests

import ckan.plugins.toolkit as tk
from ckan.lib import signals

from ckanext.dcor_depot.downloads import ckan_compat

from ..helpers import make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins",
                            "dcor_depot dcor_depot_test_protocol"),
    pytest.mark.ckan_config("ckanext.dcor_depot.download_providers",
                            "s3 depot testproto"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

CSV = b"time,deformation\n" + b"1.0,0.01\n" * 20_000
# as CKAN's own download sends it: 2.12's file storages add a charset
CSV_TYPE = "text/csv; charset=utf-8" \
    if tk.check_ckan_version(min_version="2.12") else "text/csv"


def download(app, dataset_id, rid, token=None, method="GET", **headers):
    if token:
        headers["Authorization"] = token
    url = f"/dataset/{dataset_id}/resource/{rid}/download"
    if method == "HEAD":
        return head(app, url, **headers)
    return app.get(url, headers=headers, follow_redirects=False)


def head(app, url, **headers):
    # (CKAN's test app has no head(); its get() would send a GET)
    return app.test_client().head(url, headers=headers)


def test_content_type_is_the_resources_mimetype(app, run_worker,
                                                ckan_config, monkeypatch):
    """Item 12."""
    user, circle, dataset, token = make_circle_and_user()
    table = upload_resource(app, token, dataset["id"], CSV, name="table.csv")
    cells = upload_resource(app, token, dataset["id"], b"\0" * 100,
                            name="cells.rtdc")
    assert table["mimetype"] == "text/csv"
    assert not cells.get("mimetype")
    # the depot provider (no worker ran: only the local file), as CKAN
    answer = download(app, dataset["id"], table["id"], token)
    assert answer.status_code == 200 and answer.get_data() == CSV
    assert answer.headers["Content-Type"] == CSV_TYPE
    answer = download(app, dataset["id"], cells["id"], token)
    assert answer.headers["Content-Type"] == "application/octet-stream"
    # handed to nginx: the type it keeps comes from here
    monkeypatch.setitem(ckan_config,
                        "ckanext.dcor_depot.download_accel_redirect",
                        "/_dcor_storage/")
    answer = download(app, dataset["id"], table["id"], token)
    assert answer.headers["X-Accel-Redirect"]
    assert answer.headers["Content-Type"] == CSV_TYPE
    # the S3 redirect's presigned URL makes S3 answer with the same type
    run_worker()
    answer = download(app, dataset["id"], table["id"], token)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert query["response-content-type"] == [CSV_TYPE]
    fetched = requests.get(location, timeout=60)
    assert fetched.content == CSV
    assert fetched.headers["Content-Type"] == CSV_TYPE
    answer = download(app, dataset["id"], cells["id"], token)
    assert requests.get(answer.headers["Location"], timeout=60).headers[
        "Content-Type"] == "application/octet-stream"


def test_only_a_plain_media_type_becomes_a_header():
    assert ckan_compat.content_type({"mimetype": "text/csv"}) == CSV_TYPE
    assert ckan_compat.content_type(
        {"mimetype": "application/vnd.ms-excel"}) == \
        "application/vnd.ms-excel"
    for bad in (None, "", "csv", "text/csv\r\nSet-Cookie: a=b",
                "text/html; charset=utf-7", "../x"):
        assert ckan_compat.content_type({"mimetype": bad}) == \
            "application/octet-stream", bad


@pytest.fixture
def downloads_signalled():
    """The senders of CKAN's resource_download signal, in order, seen by a
    real receiver connected for the test."""
    sent = []

    def receiver(sender, **kwargs):
        sent.append(sender)
    signals.resource_download.connect(receiver)
    yield sent
    signals.resource_download.disconnect(receiver)


def test_resource_download_signal_from_every_provider(
        app, run_worker, ckan_config, monkeypatch, downloads_signalled):
    """Item 13."""
    sent = downloads_signalled
    user, circle, dataset, token = make_circle_and_user()
    data = [os.urandom(200_000), os.urandom(300_000)]
    first, second = (upload_resource(app, token, dataset["id"], d,
                                     name=f"cells-{n}.rtdc")
                     for n, d in enumerate(data))
    # depot provider, streamed by CKAN: a whole file, a range, a HEAD
    assert download(app, dataset["id"], first["id"], token).status_code == 200
    assert sent == [first["id"]]
    part = download(app, dataset["id"], first["id"], token,
                    Range="bytes=10-19")
    assert part.status_code == 206 and sent == [first["id"]] * 2
    download(app, dataset["id"], first["id"], token, method="HEAD")
    assert len(sent) == 2
    # a refused download is none
    assert download(app, dataset["id"], first["id"]).status_code in (403,
                                                                      404)
    assert len(sent) == 2
    # depot provider, handed to nginx
    monkeypatch.setitem(ckan_config,
                        "ckanext.dcor_depot.download_accel_redirect",
                        "/_dcor_storage/")
    download(app, dataset["id"], second["id"], token)
    assert sent[2:] == [second["id"]]
    # S3 provider: the redirect
    run_worker()
    assert download(app, dataset["id"], second["id"],
                    token).status_code == 302
    assert sent[3:] == [second["id"]]
    # another plugin's provider
    link = tk.get_action("resource_create")(
        {"user": user["name"]}, {"package_id": dataset["id"],
                                 "url": "testproto://store/cells",
                                 "name": "remote.rtdc"})
    assert download(app, dataset["id"], link["id"], token).status_code == 200
    assert sent[4:] == [link["id"]]

    # an archive: once per member streamed, none for the manifest
    del sent[:]
    url = f"/download/archive?resource={first['id']}&resource={second['id']}"
    whole = app.get(url, headers={"Authorization": token})
    assert whole.status_code == 200
    with zipfile.ZipFile(io.BytesIO(whole.get_data())) as archive:
        assert archive.testzip() is None
    assert sent == [first["id"], second["id"]]
    # a resumed download does not count the member it resumes again, only
    # those it streams from their first byte
    del sent[:]
    middle_of_first = 1000
    resumed = app.get(url, headers={"Authorization": token,
                                    "Range": f"bytes={middle_of_first}-"})
    assert resumed.status_code == 206
    assert resumed.get_data() == whole.get_data()[middle_of_first:]
    assert sent == [second["id"]]
    # a HEAD of an archive streams nothing
    del sent[:]
    assert head(app, url, Authorization=token).status_code == 200
    assert sent == []
