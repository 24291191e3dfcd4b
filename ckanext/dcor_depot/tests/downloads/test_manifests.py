"""A dataset's checksum manifest: action, .sha256 and .csv routes."""
import csv
import hashlib
import io
import os
import subprocess

import pytest
import requests

from ckan.tests import factories

from ckanext.dcor_depot import manifest

from ..helpers import make_circle_and_user, upload_resource

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def manifest_action(app, token, dataset_id, status=200):
    response = app.get("/api/3/action/dataset_manifest",
                       query_string={"id": dataset_id},
                       headers={"Authorization": token} if token else {})
    assert response.status_code == status, response.body
    return response.json


def test_folder_built_from_the_manifest_verifies(app, run_worker, tmp_path,
                                                 s3_client):
    user, circle, dataset, token = make_circle_and_user()
    files = {"a.rtdc": os.urandom(3000), "b c.tsv": os.urandom(10),
             "../escape.txt": b"x"}
    for name, data in files.items():
        upload_resource(app, token, dataset["id"], data, name=name)
    upload_resource(app, token, dataset["id"], b"twice", name="a.rtdc")
    app.post("/api/3/action/resource_create",
             json={"package_id": dataset["id"], "url": "https://e.org/x"},
             headers={"Authorization": token})  # a link: not listed
    pending = manifest_action(app, token, dataset["id"])["result"]
    assert pending["complete"] is False and pending["count"] == 4
    run_worker()

    result = manifest_action(app, token, dataset["id"])["result"]
    assert result["complete"] is True and result["count"] == 4
    assert result["total_bytes"] == sum(map(len, files.values())) + 5
    paths = [f["path"] for f in result["files"]]
    assert paths[:3] == [f"{dataset['name']}/a.rtdc",
                         f"{dataset['name']}/b c.tsv",
                         f"{dataset['name']}/_escape.txt"]
    assert paths[3].startswith(f"{dataset['name']}/") and \
        paths[3].endswith("_a.rtdc")  # made unique
    # a folder built by downloading every file's url passes sha256sum -c
    session = requests.Session()
    session.headers["Authorization"] = token
    for entry in result["files"]:
        target = tmp_path / entry["path"]
        target.parent.mkdir(exist_ok=True)
        url = entry["url"].replace("http://127.0.0.1:5099", "")
        answer = app.get(url, headers={"Authorization": token},
                         follow_redirects=False)
        assert answer.status_code == 302
        target.write_bytes(requests.get(answer.headers["Location"],
                                        timeout=60).content)
    text = app.get(f"/dataset/{dataset['id']}/manifest.sha256",
                   headers={"Authorization": token}).get_data(as_text=True)
    (tmp_path / "MANIFEST.sha256").write_text(text)
    check = subprocess.run(["sha256sum", "--strict", "-c",
                            "MANIFEST.sha256"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 4

    table = app.get(f"/dataset/{dataset['id']}/manifest.csv",
                    headers={"Authorization": token}).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(table)))
    assert list(rows[0]) == ["path", "size", "sha256", "resource_id", "url"]
    assert [row["path"] for row in rows] == paths
    assert rows[0]["sha256"] == hashlib.sha256(files["a.rtdc"]).hexdigest()


def test_incomplete_manifest_says_so(app):
    user, circle, dataset, token = make_circle_and_user()
    upload_resource(app, token, dataset["id"], b"cells")  # no worker ran
    text = app.get(f"/dataset/{dataset['id']}/manifest.sha256",
                   headers={"Authorization": token}).get_data(as_text=True)
    assert text.startswith("# incomplete: 1 of 1 files have no sha256")
    assert len(text.splitlines()) == 1
    table = app.get(f"/dataset/{dataset['id']}/manifest.csv",
                    headers={"Authorization": token}).get_data(as_text=True)
    assert list(csv.DictReader(io.StringIO(table)))[0]["sha256"] == ""


def test_manifest_access_is_the_datasets(app):
    user, circle, dataset, token = make_circle_and_user(private=True)
    stranger = factories.User()
    stranger_token = factories.APIToken(user=stranger["name"])["token"]
    manifest_action(app, stranger_token, dataset["id"], status=403)
    manifest_action(app, None, dataset["id"], status=403)
    manifest_action(app, token, "no-such-dataset", status=404)
    for route in ("manifest.sha256", "manifest.csv"):
        for who in (None, stranger_token):
            answer = app.get(f"/dataset/{dataset['id']}/{route}",
                             headers={"Authorization": who} if who else {})
            assert answer.status_code == 404
        assert app.get(f"/dataset/nosuch/{route}").status_code == 404


def test_names_break_no_line_of_the_manifest(app, run_worker, tmp_path):
    """Issue 23, item 6: a resource name with a line or paragraph
    separator, a C1 control or a backslash gets a path without them: the manifest has one line per file for every reader (sha256sum,
    str.splitlines, the client), and sha256sum needs no escaping."""
    user, circle, dataset, token = make_circle_and_user()
    names = {"a\u2028b.txt": "a_b.txt", "c\u2029d.txt": "c_d.txt",
             "e\u0085f.txt": "e_f.txt", "back\\slash.txt": "back_slash.txt"}
    data = {}
    for number, name in enumerate(names):
        data[names[name]] = os.urandom(100 + number)
        upload_resource(app, token, dataset["id"], data[names[name]],
                        name=name)
    run_worker()

    result = manifest_action(app, token, dataset["id"])["result"]
    folder = dataset["name"]
    assert [f["path"] for f in result["files"]] == \
        [f"{folder}/{name}" for name in names.values()]
    text = app.get(f"/dataset/{dataset['id']}/manifest.sha256",
                   headers={"Authorization": token}).get_data(as_text=True)
    lines = text.split("\n")
    assert lines[-1] == "" and text.splitlines() == lines[:-1]
    assert not any(line.startswith("\\") for line in lines)  # no escaping
    assert [path for _, path in manifest.parse_manifest(text)] == \
        [f"{folder}/{name}" for name in names.values()]
    (tmp_path / folder).mkdir()
    for name, content in data.items():
        (tmp_path / folder / name).write_bytes(content)
    (tmp_path / "MANIFEST.sha256").write_text(text, encoding="utf-8")
    check = subprocess.run(["sha256sum", "--strict", "-c",
                            "MANIFEST.sha256"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(names)
