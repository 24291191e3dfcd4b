"""figshare import against a local server that speaks the API v2 format."""
import collections
import hashlib
import http.server
import json
import os
import re
import threading

import pytest

import ckan.plugins.toolkit as tk

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.cli import figshare as figshare_cli
from ckanext.dcor_depot.figshare import metadata

from .helpers import files_below

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


class FakeFigshare:
    """Articles and files; `faults` maps a path to a list of faults to
    apply on the next requests ("drop", "429", "500")."""

    def __init__(self):
        self.articles = {}
        self.files = {}
        self.faults = collections.defaultdict(list)
        self.hits = collections.Counter()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.hits[self.path] += 1
                fault = fake.faults[self.path].pop(0) \
                    if fake.faults[self.path] else None
                if fault in ("429", "500"):
                    self.send_response(int(fault))
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path in fake.articles:
                    body = json.dumps(fake.articles[self.path]).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if self.path not in fake.files:
                    self.send_error(404)
                    return
                data = fake.files[self.path]
                start = 0
                match = re.match(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if match:
                    start = int(match.group(1))
                    self.send_response(206)
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if fault == "drop":  # half the bytes, then hang up
                    self.wfile.write(data[start:start + (len(data) - start) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(data[start:])

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def add(self, article_id, version, files, licence="CC BY 4.0"):
        entries = []
        for number, (name, data, extra) in enumerate(files, start=1):
            file_id = article_id * 100 + number
            path = f"/files/{file_id}"
            self.files[path] = data
            entries.append({
                "id": file_id, "name": name, "size": len(data),
                "download_url": self.url + path, "is_link_only": False,
                "supplied_md5": hashlib.md5(data).hexdigest(),
                "computed_md5": hashlib.md5(data).hexdigest(), **extra})
        self.articles[f"/articles/{article_id}/versions/{version}"] = {
            "id": article_id, "version": version,
            "title": f"Article {article_id}",
            "description": "<p>Reference <b>data</b></p>",
            "authors": [{"full_name": "A. Author"}], "tags": ["RT-DC"],
            "references": [], "license": {"name": licence}, "files": entries}
        return f"10.6084/m9.figshare.{article_id}.v{version}"


@pytest.fixture
def figshare(ckan_config, monkeypatch):
    fake = FakeFigshare()
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.figshare_api_url",
                        fake.url)
    yield fake
    fake.server.shutdown()


def run(cli, *args):
    return cli.invoke(figshare_cli.import_figshare, list(args))


def test_full_import_and_rerun(cli, figshare, dcor_paths, s3_client):
    big = os.urandom(3 * 1024**2)
    doi = figshare.add(7771184, 2, [
        ("cells.rtdc", big, {}), ("readme.txt", b"hello", {}),
        ("external", b"", {"is_link_only": True, "download_url": "x"})])
    result = run(cli, "--doi", doi)
    assert result.exit_code == 0, result.output
    assert "1 imported, 0 failed" in result.output
    dataset = tk.get_action("package_show")({"ignore_auth": True},
                                            {"id": "figshare-7771184-v2"})
    assert dataset["state"] == "active" and not dataset["private"]
    assert dataset["organization"]["name"] == "figshare-import"
    assert dataset["license_id"] == "cc-by"
    assert len(dataset["resources"]) == 2
    for resource in dataset["resources"]:
        link = naming.resource_path(str(dcor_paths["storage_path"]),
                                    resource["id"])
        assert os.path.islink(link)
        assert os.readlink(link).startswith(
            str(dcor_paths["depots_path"] / "figshare" / "figshare-7771184-v2"))
        body = open(link, "rb").read()
        assert hashlib.sha256(body).hexdigest() == resource["sha256"]
        assert resource["s3_available"]
    hits = sum(figshare.hits[p] for p in figshare.files)

    again = run(cli, "--doi", doi)
    assert again.exit_code == 0, again.output
    assert sum(figshare.hits[p] for p in figshare.files) == hits
    assert "0 downloaded, 2 already there" in again.output


def test_resume_after_dropped_connection_and_429(cli, figshare, dcor_paths):
    data = os.urandom(2 * 1024**2 + 5)
    doi = figshare.add(11302595, 1, [("big.rtdc", data, {})])
    path = "/files/1130259501"
    figshare.faults[path] = ["drop", "429"]
    figshare.faults["/articles/11302595/versions/1"] = ["429", "500"]
    result = run(cli, "--doi", doi)
    assert result.exit_code == 0, result.output
    resource = tk.get_action("package_show")(
        {"ignore_auth": True}, {"id": "figshare-11302595-v1"})["resources"][0]
    assert resource["sha256"] == hashlib.sha256(data).hexdigest()
    assert figshare.hits[path] == 3  # dropped, 429, resumed


def test_wrong_md5_is_never_attached(cli, figshare, dcor_paths):
    doi = figshare.add(11662773, 2, [
        ("cells.rtdc", b"cells", {"supplied_md5": "0" * 32,
                                  "computed_md5": "0" * 32})])
    result = run(cli, "--doi", doi)
    assert result.exit_code != 0
    assert "md5" in result.output
    assert figshare.hits["/files/1166277301"] == 2  # deleted and retried
    assert files_below(dcor_paths["depots_path"]) == []
    dataset = tk.get_action("package_show")(
        {"ignore_auth": True}, {"id": metadata.dataset_id(doi)})
    assert dataset["resources"] == [] and dataset["state"] == "draft"


def test_bad_dois_do_not_stop_the_others(cli, figshare, dcor_paths,
                                         tmp_path):
    good = figshare.add(12721436, 1, [("a.rtdc", b"aaa", {})])
    unknown = figshare.add(12721437, 1, [("b.rtdc", b"bbb", {})],
                           licence="All rights reserved")
    hostile = figshare.add(12721438, 1, [
        ("../../etc/passwd", b"evil", {}), ("/abs/olute", b"abs", {}),
        ("nul\x00name\x07", b"nul", {})])
    doi_file = tmp_path / "dois.txt"
    doi_file.write_text(f"{good}\nnot-a-doi\n{unknown}\n{hostile}\n")
    result = run(cli, "--doi-file", str(doi_file))
    assert result.exit_code == 1
    assert "2 imported, 2 failed of 4 DOIs" in result.output
    assert "not a figshare DOI" in result.output
    assert "unknown licence" in result.output
    root = str(dcor_paths["depots_path"] / "figshare")
    for path in files_below(dcor_paths["depots_path"]):
        assert os.path.realpath(path).startswith(root + "/")
    assert len(files_below(dcor_paths["depots_path"])) == 4


def test_bad_arguments(cli, figshare, tmp_path):
    result = run(cli, "--doi-file", str(tmp_path / "missing.txt"))
    assert result.exit_code != 0 and "cannot read DOI file" in result.output
    result = run(cli, "--limit", "0")
    assert result.exit_code != 0 and "--limit" in result.output


def test_alias_and_limit(cli, figshare, dcor_paths):
    first = figshare.add(1001, 1, [("a.rtdc", b"a" * 10, {})])
    second = figshare.add(1002, 1, [("b.rtdc", b"b" * 10, {})])
    result = cli.invoke(figshare_cli.dcor_import_figshare,
                        ["--doi", first, "--doi", second, "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert "1 imported, 0 failed of 1 DOIs" in result.output
