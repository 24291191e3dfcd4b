"""Archives of a selection (part 3): the manifest's paths for any selection
in any order, a request bounded before anything is looked up, and
resources selected by their download URLs (MyTardis's `url` selector)."""
import io
import re
import zipfile

import pytest
import sqlalchemy as sa

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.tests import factories
from ckan.tests.helpers import call_action

from ..helpers import upload_resource
from .test_archive_routes import files_of, one_line, stored_dataset

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def names_in(answer):
    assert answer.status_code == 200, answer.get_data(as_text=True)
    with zipfile.ZipFile(io.BytesIO(answer.get_data())) as archive:
        assert archive.testzip() is None
        return archive.namelist(), archive.read("MANIFEST.sha256").decode()


def post_archive(app, token, **data):
    return app.post("/download/archive", data={"comptype": "zip", **data},
                    headers={"Authorization": token} if token else {})


def test_archive_paths_are_the_manifests_for_any_selection(app, run_worker,
                                                           s3_client):
    """Issue 23 item 2: two resources named data.txt."""
    user, circle, dataset, token = stored_dataset(app, run_worker, {})
    for data in (b"first resource", b"second resource"):
        upload_resource(app, token, dataset["id"], data, name="data.txt")
    run_worker()
    manifest = app.get(f"/api/3/action/dataset_manifest?id={dataset['id']}",
                       headers={"Authorization": token}).json["result"]
    path_of = {f["resource_id"]: f["path"] for f in manifest["files"]}
    first, second = [f["resource_id"] for f in manifest["files"]]
    assert path_of[first] == f"{dataset['name']}/data.txt"
    assert path_of[second] == f"{dataset['name']}/{second}_data.txt"

    # a selection of only the second, by id and by the dataset's route
    only_second = [path_of[second], "MANIFEST.sha256"]
    names, _ = names_in(post_archive(app, token, resource=second))
    assert names == only_second
    names, _ = names_in(app.get(
        f"/dataset/{dataset['id']}/archive?resource={second}",
        headers={"Authorization": token}))
    assert names == only_second

    # the download list, items added in reverse order, downloaded through
    # the form of its page
    call_action("download_list_add", {"user": user["name"]},
                resource_ids=[second, first])
    page = app.get("/dashboard/download-list",
                   headers={"Authorization": token}).get_data(as_text=True)
    form = re.search(r'<form method="post" action="/download/archive".*?'
                     r'</form>', page, re.S).group(0)
    ids = re.findall(r'name="resource" value="([^"]+)"', form)
    assert ids == [second, first]
    names, sums = names_in(post_archive(app, token, resource=ids))
    assert names == [path_of[second], path_of[first], "MANIFEST.sha256"]
    assert f"  {path_of[second]}\n" in sums


def count_lookups():
    """Statements that read datasets or resources, counted while active."""
    seen = []

    def listener(conn, cursor, statement, *args):
        if re.search(r"\b(package|resource)\b", statement):
            seen.append(statement)
    return seen, listener


@pytest.mark.ckan_config("ckanext.dcor_depot.archive_max_files", 3)
@pytest.mark.ckan_config("ckanext.dcor_depot.archive_max_datasets", 2)
def test_archive_request_is_bounded_before_any_lookup(app, run_worker,
                                                      s3_client):
    """Issue 23 item 3."""
    user, circle, dataset, token = stored_dataset(
        app, run_worker, files_of(1, size=1000), private=False)
    rid = dataset["resources"][0]["id"]
    seen, listener = count_lookups()
    engine = model.meta.engine
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        # too many distinct resources, datasets or download URLs: 413
        one_line(post_archive(app, None, resource=[rid] + [
            f"nosuch-{n}" for n in range(3)]), 413, "4 resources",
            "limit is 3 files")
        one_line(app.get("/download/archive?" + "&".join(
            f"dataset=d{n}" for n in range(3))), 413, "3 datasets",
            "limit is 2")
        one_line(post_archive(app, None, url=[
            f"/dataset/x/resource/r{n}/download" for n in range(4)]),
            413, "4 download URLs")
        one_line(app.get(f"/dataset/{dataset['id']}/archive?" + "&".join(
            f"resource=r{n}" for n in range(4))), 413, "4 resources")
        # a body larger than the limits need, however it would parse
        one_line(post_archive(app, None, resource=[rid] * 5000), 413,
                 "bytes", "limit for an archive request")
        assert seen == []
        # repeats count once: many copies of one id are one member
        names, _ = names_in(post_archive(app, None, resource=[rid] * 40))
        assert names == [f"{dataset['name']}/cells-0.rtdc",
                         "MANIFEST.sha256"]
        assert seen  # the listener sees the lookups of an accepted request
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)


def download_url(dataset, resource, name=None):
    tail = f"/{name}" if name else ""
    return f"/dataset/{dataset}/resource/{resource}/download{tail}"


def test_resources_selected_by_download_url(app, run_worker, s3_client):
    """Issue 23 item 9."""
    user, circle, first, token = stored_dataset(
        app, run_worker, files_of(2, size=1000))
    second = factories.Dataset(owner_org=circle["id"], user=user)
    upload_resource(app, token, second["id"], b"other", name="other.tsv")
    run_worker()
    second = tk.get_action("package_show")({"ignore_auth": True},
                                           {"id": second["id"]})
    a, b = first["resources"]
    c = second["resources"][0]
    site_url = tk.config["ckan.site_url"].rstrip("/")
    urls = [site_url + download_url(first["id"], a["id"], "cells-0.rtdc"),
            download_url(second["name"], c["id"]),
            # the same resource again, by another URL of it
            download_url(first["name"], a["id"])]
    names, _ = names_in(post_archive(app, token, url=urls))
    assert names == [f"{first['name']}/cells-0.rtdc",
                     f"{second['name']}/other.tsv", "MANIFEST.sha256"]
    # with dataset=, the URLs are limited to it (and it adds nothing)
    names, _ = names_in(post_archive(
        app, token, dataset=first["name"],
        url=[download_url(first["id"], b["id"])]))
    assert names == [f"{first['name']}/cells-1.rtdc", "MANIFEST.sha256"]
    one_line(post_archive(app, token, dataset=first["id"],
                          url=[download_url(second["id"], c["id"])]),
             400, f"resource {c['id']}", "not in the dataset given")
    # a URL that names another dataset than the resource's
    one_line(post_archive(app, token,
                          url=[download_url(first["id"], c["id"])]),
             400, f"resource {c['id']} is not in dataset {first['id']}")
    # another site, not a download URL, a relative path: one line, 400
    for bad, says in (
            ("https://elsewhere.example.org" + download_url("x", c["id"]),
             "not a URL of this site"),
            (f"{site_url}/dataset/{first['id']}", "not a resource download"),
            (f"{site_url}/api/3/action/resource_show?id={c['id']}",
             "not a resource download"),
            ("dataset/x/resource/y/download", "not an absolute or site")):
        one_line(post_archive(app, token, url=[bad]), 400, says)
    # who may not read the resource gets no archive of it by its URL, and
    # cannot tell it from one that does not exist (issue 23, item 7)
    stranger = factories.APIToken(user=factories.User()["name"])["token"]
    one_line(post_archive(app, stranger, url=[download_url(first["id"],
                                                           a["id"])]),
             404, f"no such resource: {a['id']}")
