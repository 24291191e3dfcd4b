"""Unreadable is absent (issue 23 item 7): the HTML and download routes
answer 404 to whoever may not read the dataset, the API keeps CKAN's 403.
The one Range rule (issue 23 item 8): `bytes=-0` and every other range
that selects no byte get 416 with `Content-Range: bytes */{size}` and one
plain line, from the depot stream, before the redirect, and from the
archives. And the caching rule of downloads/caching.py."""
import os

import pytest

from ckan.tests import factories

from ...downloads import byte_ranges, caching
from ..helpers import make_circle_and_user, upload_resource

pytestmark = pytest.mark.usefixtures("clean_db", "clean_queues",
                                     "with_plugins")


def get(app, url, token=None, **headers):
    if token:
        headers["Authorization"] = token
    return app.get(url, headers=headers, follow_redirects=False)


def test_unreadable_is_absent_on_every_download_route(app, run_worker,
                                                      s3_client):
    user, circle, dataset, token = make_circle_and_user(private=True)
    data = os.urandom(20_000)
    resource = upload_resource(app, token, dataset["id"], data,
                               name="hidden-name.rtdc")
    run_worker()
    pid, rid = dataset["id"], resource["id"]
    routes = [f"/dataset/{pid}/resource/{rid}/download",
              f"/dataset/{pid}/resource/{rid}/download/hidden-name.rtdc",
              f"/dataset/{pid}/manifest.sha256",
              f"/dataset/{pid}/manifest.csv",
              f"/dataset/{pid}/archive",
              f"/download/archive?dataset={pid}",
              f"/download/archive?resource={rid}"]
    for route in routes:
        assert get(app, route, token).status_code in (200, 302), route
    stranger = factories.User()
    stranger_token = factories.APIToken(user=stranger["name"])["token"]
    for who in (None, stranger_token):
        for route in routes:
            answer = get(app, route, who)
            assert answer.status_code == 404, (route, who,
                                               answer.status_code)
            body = answer.get_data()
            assert data[:32] not in body
            if "hidden-name" not in route:  # (the page repeats the URL)
                assert b"hidden-name" not in body, route
            assert "Location" not in answer.headers
        posted = app.post("/download/archive", data={"dataset": pid},
                          headers={"Authorization": who} if who else {})
        assert posted.status_code == 404, posted.status_code
        # a dataset that does not exist gets the very same answer
        assert get(app, "/dataset/no-such-dataset/manifest.sha256",
                   who).status_code == 404
        # the API keeps CKAN's 403
        api = app.post("/api/3/action/package_show", json={"id": pid},
                       headers={"Authorization": who} if who else {})
        assert api.status_code == 403
        api = app.post("/api/3/action/dataset_manifest", json={"id": pid},
                       headers={"Authorization": who} if who else {})
        assert api.status_code == 403


def assert_416(answer, size):
    assert answer.status_code == 416, answer.status_code
    assert answer.headers["Content-Range"] == f"bytes */{size}"
    assert answer.mimetype == "text/plain"
    text = answer.get_data(as_text=True)
    assert text.startswith("unsatisfiable Range") and \
        text.count("\n") == 1, text


@pytest.mark.parametrize("providers", [["depot"], ["s3", "depot"]])
def test_single_download_ranges_that_select_nothing_get_416(
        app, run_worker, s3_client, ckan_config, monkeypatch, providers):
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.download_providers",
                        providers)
    user, circle, dataset, token = make_circle_and_user()
    data = os.urandom(10_000)
    resource = upload_resource(app, token, dataset["id"], data)
    run_worker()
    url = f"/dataset/{dataset['id']}/resource/{resource['id']}/download"
    for header in ("bytes=-0", f"bytes={len(data)}-",
                   f"bytes={len(data) + 5}-{len(data) + 9}"):
        assert_416(get(app, url, token, Range=header), len(data))
    if providers == ["depot"]:
        # a suffix longer than the file selects all of it (RFC 9110)
        longer = get(app, url, token, Range=f"bytes=-{len(data) * 2}")
        assert longer.status_code == 206 and longer.get_data() == data
        assert longer.headers["Content-Range"] == \
            f"bytes 0-{len(data) - 1}/{len(data)}"
        # an If-Range of another version asks for the whole file
        other = get(app, url, token, Range="bytes=0-9", **{"If-Range":
                                                           '"other"'})
        assert other.status_code == 200 and other.get_data() == data
        head = app.test_client().head(url, headers={"Authorization": token,
                                      "Range": "bytes=5-14"})
        assert head.status_code == 206 and head.get_data() == b""
        assert head.headers["Content-Length"] == "10"


def test_archive_ranges_that_select_nothing_get_416(app, run_worker,
                                                    s3_client):
    user, circle, dataset, token = make_circle_and_user()
    upload_resource(app, token, dataset["id"], os.urandom(5000))
    run_worker()
    url = f"/dataset/{dataset['id']}/archive?comptype=tar"
    whole = get(app, url, token)
    size = len(whole.get_data())
    assert whole.status_code == 200 and size > 5000
    for header in ("bytes=-0", f"bytes={size}-"):
        assert_416(get(app, url, token, Range=header), size)


@pytest.mark.parametrize("header, if_range, expected", [
    (None, None, (0, 99, False)),
    ("bytes=10-19", None, (10, 19, True)),
    ("bytes=-10", None, (90, 99, True)),
    ("bytes=-500", None, (0, 99, True)),
    ("bytes=10-19", '"v1"', (10, 19, True)),
    ("bytes=10-19", '"v0"', (0, 99, False)),
    ("items=1-2", None, (0, 99, False)),
])
def test_wanted_bytes(header, if_range, expected):
    assert byte_ranges.wanted_bytes(header, if_range, "v1", 100) == expected


@pytest.mark.parametrize("header", ["bytes=-0", "bytes=100-", "bytes=200-300"])
def test_wanted_bytes_unsatisfiable(header):
    with pytest.raises(byte_ranges.UnsatisfiableRange):
        byte_ranges.wanted_bytes(header, None, "v1", 100)
    status, headers, body = byte_ranges.unsatisfiable(100, "why")
    assert (status, headers) == (416, {"Content-Range": "bytes */100"})
    assert body.count("\n") == 1


@pytest.mark.parametrize("dataset, public_active", [
    ({"private": False, "state": "active"}, True),
    ({"private": True, "state": "active"}, False),
    ({"private": False, "state": "draft"}, False),
    ({"private": False, "state": "deleted"}, False),
    ({}, False),
])
def test_only_public_active_datasets_are_shared(dataset, public_active):
    assert caching.is_public_active(dataset) is public_active


def test_cache_headers():
    assert caching.cache_headers(False, False) == {
        "Cache-Control": "private, no-store",
        "Vary": "Authorization, Cookie"}
    assert caching.cache_headers(False, True) == \
        caching.cache_headers(False, False)
    assert caching.cache_headers(True, False) == {}
    assert caching.cache_headers(True, True) == {
        "Vary": "Authorization, Cookie"}
