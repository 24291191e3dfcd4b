"""BagIt bags (RFC 8493) from every archive route (issue 28, item 1):
extracted and checked with the Library of Congress's bagit.py and with
DCOR-Aid 1.1.3's own code. Real site, worker and radosgw."""
import hashlib
import io
import json
import os
import pathlib
import subprocess
import sys
import tarfile
import zipfile

import pytest
import requests

import ckan.plugins.toolkit as tk
from ckan.tests import factories

from dcoraid.bagit import archive as dcoraid_archive
from dcoraid.bagit import manifest as dcoraid_manifest
import dcoraid.api as dcoraid_api

from ckanext.dcor_depot import manifest, naming
from ckanext.dcor_depot.downloads import bagit_layout

from ..conftest import circle_bucket
from ..helpers import make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

BAGIT_PY = str(pathlib.Path(sys.executable).with_name("bagit.py"))
# spaces, Unicode and a percent sign (newlines never survive a resource
# name: naming.safe_name turns them into "_")
FILES = {"cells one.rtdc": os.urandom(150_001),
         "Messung ünïcödé — 測定.tsv": os.urandom(7_000),
         "50% gain.txt": b"half\n"}


def validate(bag: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([BAGIT_PY, "--validate", str(bag)],
                          capture_output=True, text=True)


def stored_dataset(app, run_worker, files, user=None, circle=None,
                   token=None, name=None):
    if user is None:
        user, circle, dataset, token = make_circle_and_user()
    else:
        dataset = factories.Dataset(owner_org=circle["id"], private=True,
                                    user=user, name=name)
    for file_name, data in files.items():
        upload_resource(app, token, dataset["id"], data, name=file_name)
    run_worker()
    dataset = tk.get_action("package_show")({"ignore_auth": True},
                                            {"id": dataset["id"]})
    return user, circle, dataset, token


def put_condensed(s3_client, circle, resource, data):
    """A condensed object beside the resource, as DCOR's serve extension
    leaves one (no sha256 recorded on it)."""
    s3_client.put_object(Bucket=circle_bucket(circle["id"]),
                         Key=naming.object_key("condensed", resource["id"]),
                         Body=data)


def extract(body: bytes, comptype: str, folder: pathlib.Path) -> list[str]:
    if comptype == "zip":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            assert archive.testzip() is None
            archive.extractall(folder)
            return archive.namelist()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        archive.extractall(folder)
        return archive.getnames()


def get_archive(app, url, token):
    answer = app.get(url, headers={"Authorization": token})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_data()
    assert int(answer.headers["Content-Length"]) == len(body)
    assert answer.headers["Accept-Ranges"] == "bytes"
    return answer, body


@pytest.mark.parametrize("comptype", ["zip", "tar"])
def test_dataset_bag_validates_with_bagit_py_and_dcoraid(
        app, run_worker, s3_client, tmp_path, comptype):
    user, circle, dataset, token = stored_dataset(app, run_worker, FILES)
    cells = next(r for r in dataset["resources"]
                 if r["name"] == "cells one.rtdc")
    condensed = os.urandom(20_003)
    put_condensed(s3_client, circle, cells, condensed)

    answer, body = get_archive(
        app, f"/dataset/{dataset['id']}/archive?comptype={comptype}"
             f"&layout=bagit", token)
    assert f'{dataset["name"]}-bagit.{comptype}' in \
        answer.headers["Content-Disposition"]
    names = extract(body, comptype, tmp_path / "out")
    bag = tmp_path / "out" / f"01_{dataset['name']}"
    data = {"cells one.rtdc": FILES["cells one.rtdc"],
            "cells one_condensed.rtdc": condensed,
            "Messung ünïcödé — 測定.tsv": FILES["Messung ünïcödé — 測定.tsv"],
            "50_ gain.txt": FILES["50% gain.txt"]}
    prefix = f"01_{dataset['name']}/"
    assert names == [prefix + "data/" + n for n in data] + [
        prefix + "data/dataset.json"] + [
        prefix + t for t in bagit_layout.TAG_FILES] + ["MANIFEST.sha256"]
    for name, content in data.items():
        assert (bag / "data" / name).read_bytes() == content
    shown = json.loads((bag / "data" / "dataset.json").read_text())
    assert shown["id"] == dataset["id"] and shown["name"] == dataset["name"]

    checked = validate(bag)
    assert checked.returncode == 0, checked.stderr
    assert dcoraid_manifest.is_bagged(bag)
    info = (bag / "bag-info.txt").read_text().splitlines()
    payload_bytes = sum(len(c) for c in data.values()) + \
        (bag / "data" / "dataset.json").stat().st_size
    assert f"Payload-Oxum: {payload_bytes}.5" in info
    assert f"Bag-Group-Identifier: {circle['name']}" in info
    assert "Bag-Count: 1 of 1" in info
    assert f"External-Identifier: {dataset['name']}" in info
    assert f"Source-Organization: {tk.config.get('ckan.site_title')}" in info
    assert (bag / "bagit.txt").read_text().startswith("BagIt-Version: 1.0\n")

    # one changed byte: bagit.py refuses the bag
    target = bag / "data" / "Messung ünïcödé — 測定.tsv"
    changed = bytearray(target.read_bytes())
    changed[100] ^= 1
    target.write_bytes(bytes(changed))
    checked = validate(bag)
    assert checked.returncode != 0
    assert "Messung" in checked.stderr


@pytest.mark.parametrize("comptype", ["zip", "tar"])
def test_selection_of_two_datasets_makes_two_bags(app, run_worker, tmp_path,
                                                  comptype):
    user, circle, first, token = stored_dataset(
        app, run_worker, {"a.tsv": os.urandom(3000)})
    _, _, second, _ = stored_dataset(
        app, run_worker, {"b c.txt": os.urandom(5000), "d.h5": b"x"},
        user=user, circle=circle, token=token, name="second-dataset")
    answer = app.post("/download/archive",
                      data={"dataset": [first["id"], second["id"]],
                            "comptype": comptype, "layout": "bagit"},
                      headers={"Authorization": token})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    extract(answer.get_data(), comptype, tmp_path / "out")
    bags = sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir())
    assert bags == [f"01_{first['name']}", "02_second-dataset"]
    for index, bag in enumerate(bags, start=1):
        checked = validate(tmp_path / "out" / bag)
        assert checked.returncode == 0, checked.stderr
        assert dcoraid_manifest.is_bagged(tmp_path / "out" / bag)
        assert f"Bag-Count: {index} of 2" in \
            (tmp_path / "out" / bag / "bag-info.txt").read_text()
    assert (tmp_path / "out" / bags[1] / "data" / "b c.txt").stat().st_size \
        == 5000


def test_bag_folders_are_numbered_as_dcoraid_numbers_them():
    assert bagit_layout.bag_folder(1, 1, "a") == "01_a"
    assert bagit_layout.bag_folder(9, 9, "a") == "09_a"
    assert bagit_layout.bag_folder(10, 10, "a") == "010_a"
    assert bagit_layout.bag_folder(7, 123, "a") == "0007_a"
    with pytest.raises(ValueError):
        bagit_layout.bag_folder(0, 3, "a")


def test_payload_names_reserve_dataset_json_and_stay_unique():
    names, condensed = bagit_layout.payload_names(
        [("r1", "dataset.json"), ("r2", "x.rtdc"), ("r3", "x_condensed.rtdc"),
         ("r4", "100%.txt")], ["r2"])
    assert names["r1"] != "dataset.json" and names["r1"].endswith(
        "dataset.json")
    assert names["r3"] == "x_condensed.rtdc"
    assert condensed["r2"] != "x_condensed.rtdc" and \
        condensed["r2"].endswith("x_condensed.rtdc")
    assert names["r4"] == "100_.txt"
    assert bagit_layout.encode_path("a%b\r\nc") == "a%25b%0D%0Ac"


def test_a_newline_in_a_resource_name_never_reaches_a_bag():
    # the site turns it into "_" (naming.safe_name) before any manifest
    path, = manifest.download_paths("ds", [("r1", "two\nlines\r.txt")])
    names, _ = bagit_layout.payload_names([("r1", path.split("/", 1)[1])],
                                          [])
    assert names["r1"] == "two_lines_.txt"


def test_tag_manifest_has_no_empty_last_line():
    files = [bagit_layout.PayloadFile("a", 1, "0" * 64)]
    tags = bagit_layout.tag_files(files, b"X: y\n")
    text = dict(tags)["tagmanifest-sha256.txt"].decode()
    assert not text.endswith("\n")
    assert [line.split("  ", 1)[1] for line in text.split("\n")] == \
        ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"]


def test_unknown_layout_is_refused_before_any_lookup(app):
    answer = app.get("/download/archive?dataset=nope&layout=bagz")
    assert answer.status_code == 400
    assert answer.get_data(as_text=True) == \
        "layout must be one of plain, bagit, not 'bagz'\n"


def test_limits_count_the_tag_files_and_condensed_objects(
        app, run_worker, ckan_config, monkeypatch):
    user, circle, dataset, token = stored_dataset(
        app, run_worker, {"a.tsv": b"a", "b.tsv": b"b"})
    # two files pass a limit of 3 as a plain archive, not as a bag (7)
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.archive_max_files",
                        3)
    plain = app.get(f"/dataset/{dataset['id']}/archive",
                    headers={"Authorization": token})
    assert plain.status_code == 200
    bag = app.get(f"/dataset/{dataset['id']}/archive?layout=bagit",
                  headers={"Authorization": token})
    assert bag.status_code == 413
    assert "7 files" in bag.get_data(as_text=True)


@pytest.mark.parametrize("comptype", ["zip", "tar"])
def test_curl_resumes_a_cut_bag_byte_for_byte(live_site, run_worker, app,
                                              s3_client, tmp_path, comptype):
    user, circle, dataset, token = stored_dataset(
        app, run_worker, {"big one.rtdc": os.urandom(3 * 1024**2 + 5),
                          "notes.txt": b"n" * 700})
    put_condensed(s3_client, circle, dataset["resources"][0],
                  os.urandom(400_000))
    url = (f"{live_site}/dataset/{dataset['id']}/archive?"
           f"comptype={comptype}&layout=bagit")
    whole = requests.get(url, headers={"Authorization": token}).content
    target = tmp_path / f"bag.{comptype}"
    target.write_bytes(whole[:len(whole) // 2 + 12345])  # a cut download
    resumed = subprocess.run(
        ["curl", "-sS", "-f", "-C", "-", "-H", f"Authorization: {token}",
         "-o", str(target), url], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert hashlib.sha256(target.read_bytes()).digest() == \
        hashlib.sha256(whole).digest()
    extract(whole, comptype, tmp_path / "out")
    bag = tmp_path / "out" / f"01_{dataset['name']}"
    assert validate(bag).returncode == 0


def test_dcoraid_bag_dataset_agrees_with_the_site_bag(live_site, run_worker,
                                                      app, tmp_path):
    # DCOR-Aid fetches condensed files from a route of DCOR's serve
    # extension, which this site has not; so no RT-DC files here
    user, circle, dataset, token = stored_dataset(
        app, run_worker, {"beads.tsv": os.urandom(9000),
                          "notes in Zürich.txt": os.urandom(100)})
    api = dcoraid_api.CKANAPI(server=live_site, api_key=token,
                              ssl_verify=False, caching=False)
    theirs = tmp_path / "dcoraid" / f"01_{dataset['name']}"
    dcoraid_archive.bag_dataset(
        api=api, ds_dict=api.get("package_show", id=dataset["id"]),
        bag_path=theirs)
    assert dcoraid_manifest.is_bagged(theirs)

    answer = requests.get(f"{live_site}/dataset/{dataset['id']}/archive?"
                          f"layout=bagit", headers={"Authorization": token})
    assert answer.status_code == 200
    extract(answer.content, "zip", tmp_path / "site")
    ours = tmp_path / "site" / f"01_{dataset['name']}"

    def payload(bag):
        return {p.relative_to(bag).as_posix(): p.read_bytes()
                for p in (bag / "data").rglob("*") if p.is_file()
                and p.name != "dataset.json"}

    def lines(bag):
        return [line for line in (bag / "manifest-sha256.txt").read_text()
                .splitlines() if not line.endswith("  data/dataset.json")]

    assert payload(ours) == payload(theirs)
    assert lines(ours) == lines(theirs)
    ours_json = json.loads((ours / "data/dataset.json").read_text())
    theirs_json = json.loads((theirs / "data/dataset.json").read_text())
    assert sorted(ours_json) == sorted(theirs_json)
    assert ours_json["id"] == theirs_json["id"]
    assert [r["id"] for r in ours_json["resources"]] == \
        [r["id"] for r in theirs_json["resources"]]


def test_a_condensed_object_unlike_its_record_cuts_the_bag(
        app, run_worker, live_site, s3_client):
    user, circle, dataset, token = stored_dataset(
        app, run_worker, {"cells.rtdc": os.urandom(200_000)})
    condensed = os.urandom(300_000)
    # recorded sha256 of other bytes: a tar bag trusts the record before
    # the first byte, and the stream finds the difference
    s3_client.put_object(
        Bucket=circle_bucket(circle["id"]),
        Key=naming.object_key("condensed", dataset["resources"][0]["id"]),
        Body=condensed, Metadata={"sha256": "0" * 64})
    answer = requests.get(f"{live_site}/dataset/{dataset['id']}/archive",
                          params={"comptype": "tar", "layout": "bagit"},
                          headers={"Authorization": token}, stream=True,
                          timeout=60)
    assert answer.status_code == 200
    length, got = int(answer.headers["Content-Length"]), b""
    with pytest.raises(requests.RequestException):
        for chunk in answer.iter_content(65536):
            got += chunk
    assert len(got) < length
    assert condensed not in got
    # a zip bag reads the object before the first byte: refused with 409
    refused = requests.get(f"{live_site}/dataset/{dataset['id']}/archive",
                           params={"comptype": "zip", "layout": "bagit"},
                           headers={"Authorization": token}, timeout=60)
    assert refused.status_code == 409
    assert "condensed object does not match its record" in refused.text
