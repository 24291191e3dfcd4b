"""Archives of a dataset or a selection through CKAN (part 2): exact
length, ranges, verified as they stream, limits and access."""
import hashlib
import io
import os
import random
import subprocess
import tarfile
import zipfile

import pytest
import requests

import ckan.plugins.toolkit as tk
from ckan.tests import factories

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.workflows import records

from ..conftest import circle_bucket
from ..helpers import make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def stored_dataset(app, run_worker, files, private=True):
    user, circle, dataset, token = make_circle_and_user(private=private)
    for name, data in files.items():
        upload_resource(app, token, dataset["id"], data, name=name)
    run_worker()
    dataset = tk.get_action("package_show")({"ignore_auth": True},
                                            {"id": dataset["id"]})
    return user, circle, dataset, token


READ_FROM_S3 = pytest.mark.ckan_config(
    "ckanext.dcor_depot.archive_providers", "s3")


def replace_bytes(path, data):
    """Other bytes at a path, behind the extension's back."""
    replacement = f"{path}.other"
    with open(replacement, "wb") as handle:
        handle.write(data)
    os.replace(replacement, path)


def files_of(count, size=150_000):
    return {f"cells-{n}.rtdc": os.urandom(size + n) for n in range(count)}


def get(app, url, token=None, **headers):
    if token:
        headers["Authorization"] = token
    return app.get(url, headers=headers)


SOURCES = pytest.mark.parametrize("source", [
    "depot", pytest.param("s3", marks=READ_FROM_S3)])


def keep_only(source, circle, dataset, s3_client):
    """Remove the other copy of each resource, so that the archive can
    only come from `source` (and the test shows that one works alone)."""
    for resource in dataset["resources"]:
        if source == "depot":
            s3_client.delete_object(
                Bucket=circle_bucket(circle["id"]),
                Key=naming.object_key("resource", resource["id"]))
        else:
            os.unlink(os.path.realpath(records.ckan_path(resource["id"])))


@SOURCES
@pytest.mark.parametrize("comptype", ["zip", "tar"])
def test_dataset_archive_holds_every_file_verified(app, run_worker, tmp_path,
                                                   comptype, s3_client,
                                                   source):
    files = files_of(3)
    user, circle, dataset, token = stored_dataset(app, run_worker, files)
    keep_only(source, circle, dataset, s3_client)
    answer = get(app, f"/dataset/{dataset['id']}/archive?comptype={comptype}",
                 token)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_data()
    assert int(answer.headers["Content-Length"]) == len(body)
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert answer.headers["ETag"] and answer.headers["Last-Modified"]
    assert f'filename="{dataset["name"]}.{comptype}"' in \
        answer.headers["Content-Disposition"]
    folder = tmp_path / "out"
    if comptype == "zip":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            assert archive.testzip() is None
            names = archive.namelist()
            archive.extractall(folder)
    else:
        with tarfile.open(fileobj=io.BytesIO(body)) as archive:
            names = archive.getnames()
            archive.extractall(folder)
    assert names == [f"{dataset['name']}/{name}" for name in files] + \
        ["MANIFEST.sha256"]
    for name, data in files.items():
        assert hashlib.sha256((folder / dataset["name"] / name).read_bytes()
                              ).hexdigest() == hashlib.sha256(data).hexdigest()
    check = subprocess.run(["sha256sum", "--strict", "-c", "MANIFEST.sha256"],
                           cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.count(": OK") == 3
    head = app.get(f"/dataset/{dataset['id']}/archive?comptype={comptype}",
                   headers={"Authorization": token}, method="HEAD")
    assert head.headers["Content-Length"] == str(len(body))
    assert head.headers["ETag"] == answer.headers["ETag"]


@SOURCES
@pytest.mark.parametrize("comptype", ["zip", "tar"])
def test_broken_download_resumes_with_range(app, run_worker, comptype,
                                            live_site, s3_client, source):
    """Over real HTTP, as curl -C - or a browser resumes."""
    files = files_of(4, size=400_000)
    user, circle, dataset, token = stored_dataset(app, run_worker, files)
    keep_only(source, circle, dataset, s3_client)
    url = f"{live_site}/dataset/{dataset['id']}/archive?comptype={comptype}"
    session = requests.Session()
    session.headers["Authorization"] = token
    whole = session.get(url, timeout=60)
    body, etag = whole.content, whole.headers["ETag"]
    assert len(body) == int(whole.headers["Content-Length"])
    generator = random.Random(7)
    for _ in range(5):
        cut = generator.randrange(1, len(body) - 1)
        rest = session.get(url, timeout=60, headers={
            "Range": f"bytes={cut}-", "If-Range": etag})
        assert rest.status_code == 206
        assert rest.headers["Content-Range"] == \
            f"bytes {cut}-{len(body) - 1}/{len(body)}"
        assert body[:cut] + rest.content == body
    # a changed archive (another ETag) is sent whole again
    stale = session.get(url, timeout=60, headers={"Range": "bytes=10-",
                                                  "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == body


def test_zip_without_crc_streams_whole_and_tar_still_ranges(
        app, run_worker, s3_client):
    files = files_of(2)
    user, circle, dataset, token = stored_dataset(app, run_worker, files)
    for resource in dataset["resources"]:  # as stored before CRC-32 was kept
        tk.get_action("resource_patch")(
            {"ignore_auth": True, "dcor_depot_internal": True},
            {"id": resource["id"], "crc32": None})
    url = f"/dataset/{dataset['id']}/archive"
    zipped = get(app, url + "?comptype=zip", token, Range="bytes=100-")
    assert zipped.status_code == 200
    assert zipped.headers["Accept-Ranges"] == "none"
    with zipfile.ZipFile(io.BytesIO(zipped.get_data())) as archive:
        assert archive.testzip() is None
    tarred = get(app, url + "?comptype=tar", token, Range="bytes=100-")
    assert tarred.status_code == 206


@SOURCES
def test_changed_bytes_cut_the_stream_short(app, run_worker, live_site,
                                            s3_client, source):
    files = files_of(3)
    user, circle, dataset, token = stored_dataset(app, run_worker, files)
    victim = dataset["resources"][1]
    other_bytes = os.urandom(victim["size"])  # of the same size
    if source == "depot":
        replace_bytes(os.path.realpath(records.ckan_path(victim["id"])),
                      other_bytes)
    else:
        bucket = circle_bucket(circle["id"])
        key = naming.object_key("resource", victim["id"])
        tags = s3_client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        s3_client.put_object(Bucket=bucket, Key=key, Body=other_bytes,
                             Tagging="&".join(f"{t['Key']}={t['Value']}"
                                              for t in tags))
    for comptype in ("zip", "tar"):
        answer = requests.get(f"{live_site}/dataset/{dataset['id']}/archive",
                              params={"comptype": comptype},
                              headers={"Authorization": token}, stream=True,
                              timeout=60)
        assert answer.status_code == 200
        length, got = int(answer.headers["Content-Length"]), b""
        with pytest.raises(requests.RequestException):
            for chunk in answer.iter_content(65536):
                got += chunk
        assert len(got) < length
        # the damaged member never arrives whole
        assert hashlib.sha256(got).hexdigest() != \
            hashlib.sha256(files["cells-1.rtdc"]).hexdigest()


def archive_members(answer):
    assert answer.status_code == 200, answer.get_data(as_text=True)
    with zipfile.ZipFile(io.BytesIO(answer.get_data())) as archive:
        assert archive.testzip() is None
        return {name.rsplit("/", 1)[-1]: archive.read(name)
                for name in archive.namelist()}


def test_members_are_read_from_the_local_copy_first(app, run_worker,
                                                    s3_client, ckan_config,
                                                    monkeypatch):
    """An archive's bytes pass through CKAN anyway: by default a member
    comes from its verified local copy, an object only where the site has
    no local file; archive_providers = s3 turns that round."""
    files = files_of(2)
    user, circle, dataset, token = stored_dataset(app, run_worker, files)
    url = f"/dataset/{dataset['id']}/archive?comptype=zip"
    first, second = dataset["resources"]
    bucket = circle_bucket(circle["id"])
    # the first member's object is gone: the local copy serves it
    s3_client.delete_object(Bucket=bucket,
                            Key=naming.object_key("resource", first["id"]))
    # the second member has no local copy: its object serves it
    os.unlink(os.path.realpath(records.ckan_path(second["id"])))
    got = archive_members(get(app, url, token))
    assert got["cells-0.rtdc"] == files["cells-0.rtdc"]
    assert got["cells-1.rtdc"] == files["cells-1.rtdc"]
    # objects first: the first member's missing object is found before
    # the first byte
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.archive_providers",
                        "s3")
    one_line(get(app, url, token), 409, f"resource {first['id']}", "missing")


@READ_FROM_S3
def test_missing_object_is_found_before_the_first_byte(app, run_worker,
                                                       s3_client):
    user, circle, dataset, token = stored_dataset(app, run_worker,
                                                  files_of(2))
    gone = dataset["resources"][0]
    s3_client.delete_object(Bucket=circle_bucket(circle["id"]),
                            Key=naming.object_key("resource", gone["id"]))
    one_line(get(app, f"/dataset/{dataset['id']}/archive", token), 409,
             f"resource {gone['id']}", "missing")


def test_selection_across_datasets(app, run_worker, s3_client):
    files_a, files_b = files_of(2), {"other.tsv": os.urandom(3000)}
    user, circle, first, token = stored_dataset(app, run_worker, files_a)
    second = factories.Dataset(owner_org=circle["id"], user=user)
    upload_resource(app, token, second["id"], files_b["other.tsv"],
                    name="other.tsv")
    run_worker()
    second = tk.get_action("package_show")({"ignore_auth": True},
                                           {"id": second["id"]})
    answer = app.post("/download/archive", data={
        "dataset": first["id"], "resource": second["resources"][0]["id"],
        "comptype": "zip", "name": "my-selection"},
        headers={"Authorization": token})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert 'filename="my-selection.zip"' in \
        answer.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.get_data())) as archive:
        assert sorted(archive.namelist()) == sorted(
            [f"{first['name']}/{n}" for n in files_a] +
            [f"{second['name']}/other.tsv", "MANIFEST.sha256"])


def one_line(answer, status, *parts):
    assert answer.status_code == status, answer.get_data(as_text=True)
    text = answer.get_data(as_text=True)
    assert text.count("\n") == 1, text
    for part in parts:
        assert part in text, text


@pytest.mark.ckan_config("ckanext.dcor_depot.archive_max_files", 2)
def test_limits_refuse_before_any_byte(app, run_worker, s3_client,
                                       ckan_config, monkeypatch):
    user, circle, dataset, token = stored_dataset(app, run_worker,
                                                  files_of(3))
    url = f"/dataset/{dataset['id']}/archive"
    one_line(get(app, url, token), 413, "3 files", "limit is 2",
             "dcor-depot client")
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.archive_max_files",
                        100)
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.archive_max_bytes",
                        1000)
    one_line(get(app, url, token), 413, "bytes", "limit is 1000")


def test_access_and_bad_input(app, run_worker, s3_client):
    user, circle, dataset, token = stored_dataset(app, run_worker,
                                                  files_of(1))
    rid = dataset["resources"][0]["id"]
    url = f"/dataset/{dataset['id']}/archive"
    stranger = factories.User()
    stranger_token = factories.APIToken(user=stranger["name"])["token"]
    for who in (None, stranger_token):
        assert get(app, url, who).status_code == 404
        one_line(get(app, f"/download/archive?resource={rid}", who), 404,
                 f"no such resource: {rid}")
    one_line(get(app, url + "?comptype=rar", token), 400, "comptype")
    one_line(get(app, url + "?resource=nosuch", token), 404,
             "no such resource: nosuch")
    other = factories.Dataset(owner_org=circle["id"], user=user)
    upload_resource(app, token, other["id"], b"elsewhere")
    other_rid = tk.get_action("package_show")(
        {"ignore_auth": True}, {"id": other["id"]})["resources"][0]["id"]
    one_line(get(app, url + f"?resource={other_rid}", token), 400,
             f"resource {other_rid} is not in dataset")
    one_line(get(app, "/download/archive", token), 400, "holds no file")
    one_line(get(app, "/download/archive?dataset=nosuch", token), 404,
             "no such dataset: nosuch")
    one_line(get(app, url + "?name=../../etc", token), 400,
             "not a safe archive name")
    for bad in ("bytes=abc", "bytes=0-1,4-5"):
        one_line(get(app, url, token, Range=bad), 400, "malformed Range")
    answer = get(app, url, token, Range="bytes=999999999-")
    assert answer.status_code == 416
    assert get(app, "/dataset/nosuch/archive", token).status_code == 404

