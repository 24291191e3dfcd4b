"""figshare import against a local server that speaks the API v2 format."""
import collections
import hashlib
import http.server
import json
import os
import re
import signal
import socket
import threading
import time
import urllib.parse

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import factories

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.cli import figshare as figshare_cli
from ckanext.dcor_depot.figshare import metadata
from ckanext.dcor_depot.figshare.client import FigshareClient, FigshareError
from ckanext.dcor_depot.storage import depot

from ..conftest import s3_settings, start_ckan
from ..helpers import files_below

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


class FakeFigshare:
    """Articles and files; `faults` maps a path to a list of faults to
    apply on the next requests ("drop", "stall", "429", "500",
    "429-huge-wait", "503-garbled-wait"), `redirects` maps a path to a
    Location, and `on_request` maps a path to a function called before the
    answer. It also answers as an HTTP proxy (an absolute URL in the request
    line), so tests can give files addresses that are never dialled."""

    def __init__(self):
        self.articles = {}
        self.files = {}
        self.faults = collections.defaultdict(list)
        self.redirects = {}
        self.on_request = {}
        self.hits = collections.Counter()
        self.ranges = collections.defaultdict(list)
        self.release = threading.Event()  # ends a "stall"
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path
                if path.startswith(("http://", "https://")):  # as a proxy
                    parts = urllib.parse.urlsplit(path)
                    path = parts.path + (f"?{parts.query}" if parts.query
                                         else "")
                fake.hits[path] += 1
                fault = fake.faults[path].pop(0) \
                    if fake.faults[path] else None
                if path in fake.on_request:
                    fake.on_request[path]()
                if fault in ("429", "500", "429-huge-wait",
                             "503-garbled-wait"):
                    self.send_response(int(fault[:3]))
                    self.send_header("Retry-After", {
                        "429-huge-wait": "86400",
                        "503-garbled-wait": "soon"}.get(fault, "0"))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path in fake.redirects:
                    self.send_response(302)
                    self.send_header("Location", fake.redirects[path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path in fake.articles:
                    body = json.dumps(fake.articles[path]).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if path not in fake.files:
                    self.send_error(404)
                    return
                data = fake.files[path]
                start = 0
                match = re.match(r"bytes=(\d+)-", self.headers.get("Range", ""))
                fake.ranges[path].append(int(match.group(1)) if match
                                         else None)
                if match:
                    start = int(match.group(1))
                    self.send_response(206)
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if fault in ("drop", "stall"):  # half the bytes, then ...
                    self.wfile.write(data[start:start + (len(data) - start) // 2])
                    self.wfile.flush()
                    if fault == "stall":  # ... wait, as a hung server does
                        fake.release.wait(120)
                    self.connection.shutdown(2)  # ... hang up
                    return
                self.wfile.write(data[start:])

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def add(self, article_id, version, files, licence="CC BY 4.0",
            base=None):
        """An article with `files` as (name, bytes, fields to change); a
        file's id is article_id * 100 + its number unless the fields give
        one. `base` is the start of the download URLs (default: here)."""
        entries = []
        for number, (name, data, extra) in enumerate(files, start=1):
            file_id = extra.get("id", article_id * 100 + number)
            path = f"/files/{file_id}"
            self.files[path] = data
            entries.append({
                "id": file_id, "name": name, "size": len(data),
                "download_url": (base or self.url) + path,
                "is_link_only": False,
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
    fake.release.set()
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


# A global address that is never dialled: requests for it go through the
# fake figshare server as an HTTP proxy.
PUBLIC = "http://93.184.215.14"


@pytest.fixture
def public_figshare(figshare, ckan_config, monkeypatch):
    """The fake figshare server as if it were on the internet: the API URL
    is a global address, reached through the fake server as a proxy, so
    downloads from loopback, private or link-local addresses are refused."""
    s3_host = urllib.parse.urlsplit(
        s3_settings()["dcor_object_store.endpoint_url"] or "").hostname
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, figshare.url)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, ",".join(filter(None, [
            "127.0.0.1", "localhost", s3_host])))
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.figshare_api_url",
                        PUBLIC)
    return figshare


def dataset_of(doi):
    return tk.get_action("package_show")(
        {"ignore_auth": True}, {"id": metadata.dataset_id(doi)})


def resource_bytes(dcor_paths, resource):
    link = naming.resource_path(str(dcor_paths["storage_path"]),
                                resource["id"])
    with open(link, "rb") as handle:
        return handle.read()


def figshare_folder(dcor_paths, doi):
    article_id, version = metadata.parse_doi(doi)
    return dcor_paths["depots_path"] / "figshare" / metadata.dataset_name(
        article_id, version)


# safety issue, item 5: name collisions

def test_colliding_names_get_their_own_files(cli, figshare, dcor_paths):
    """12_a.txt (id 99), a.txt (id 5) and a.txt (id 12) were all placed at
    12_a.txt, and the size-only skip attached the bytes of file 99 to
    file 12."""
    contents = {99: b"file 99!", 5: b"file  5!", 12: b"file 12!"}
    doi = figshare.add(4242, 1, [("12_a.txt", contents[99], {"id": 99}),
                                 ("a.txt", contents[5], {"id": 5}),
                                 ("a.txt", contents[12], {"id": 12})])
    result = run(cli, "--doi", doi)
    assert result.exit_code == 0, result.output
    dataset = dataset_of(doi)
    names = {}
    for file_id, data in contents.items():
        rid = metadata.resource_id(dataset["id"], file_id)
        resource = next(r for r in dataset["resources"] if r["id"] == rid)
        assert resource_bytes(dcor_paths, resource) == data
        assert resource["sha256"] == hashlib.sha256(data).hexdigest()
        names[file_id] = resource["name"]
    assert names == {99: "12_a.txt", 5: "a.txt", 12: "12_2_a.txt"}
    assert sorted(os.listdir(figshare_folder(dcor_paths, doi))) == \
        ["12_2_a.txt", "12_a.txt", "a.txt"]

    again = run(cli, "--doi", doi)  # the same names on every run
    assert again.exit_code == 0, again.output
    assert "0 downloaded, 3 already there" in again.output
    assert sorted(os.listdir(figshare_folder(dcor_paths, doi))) == \
        ["12_2_a.txt", "12_a.txt", "a.txt"]


def test_existing_file_with_other_bytes_is_never_replaced(cli, figshare,
                                                          dcor_paths):
    """A file already at the target is skipped only if its size and md5
    are figshare's; otherwise the import of that DOI fails and the file
    stays as it is."""
    same_size = figshare.add(4243, 1, [("cells.txt", b"fresh!!!", {})])
    other_size = figshare.add(4244, 1, [("cells.txt", b"fresh!!!", {})])
    stale = {same_size: b"stale!!!", other_size: b"old"}
    for doi, data in stale.items():
        folder = figshare_folder(dcor_paths, doi)
        folder.mkdir(parents=True)
        (folder / "cells.txt").write_bytes(data)
    result = run(cli, "--doi", same_size, "--doi", other_size)
    assert result.exit_code == 1
    assert "0 imported, 2 failed of 2 DOIs" in result.output
    for doi, data in stale.items():
        target = figshare_folder(dcor_paths, doi) / "cells.txt"
        assert target.read_bytes() == data
        errors = [line for line in result.output.splitlines()
                  if line.startswith(f"{doi}: failed")]
        assert len(errors) == 1 and str(target) in errors[0], result.output
        assert "other bytes" in errors[0]
        assert dataset_of(doi)["resources"] == []
        assert os.listdir(target.parent) == ["cells.txt"]


def test_download_never_replaces_a_file_that_appears(figshare, tmp_path):
    """A file that appears at the target while the download runs (another
    importer) is kept; the download is placed only where nothing is."""
    figshare.add(4245, 1, [("x.txt", b"from figshare", {})])
    client = FigshareClient(figshare.url, max_attempts=2)
    md5 = hashlib.md5(b"from figshare").hexdigest()
    target = tmp_path / "depot" / "x.txt"
    target.parent.mkdir()
    figshare.on_request["/files/424501"] = \
        lambda: target.write_bytes(b"other bytes!!")
    with pytest.raises(FigshareError, match="other bytes"):
        client.download(figshare.url + "/files/424501", str(target), 13, md5)
    assert target.read_bytes() == b"other bytes!!"
    # the verified download is kept for the operator (or the next run)
    part = tmp_path / "depot" / ".x.txt.part-resume"
    assert part.read_bytes() == b"from figshare"

    # the same bytes appearing there are fine
    same = tmp_path / "depot" / "same.txt"
    figshare.on_request["/files/424501"] = \
        lambda: same.write_bytes(b"from figshare")
    done = client.download(figshare.url + "/files/424501", str(same), 13,
                           md5)
    assert done.sha256 == hashlib.sha256(b"from figshare").hexdigest()
    assert sorted(os.listdir(same.parent)) == [
        ".x.txt.part-resume", "same.txt", "x.txt"]


# safety issue, item 12: where downloads may come from

def test_downloads_from_internal_addresses_are_refused(cli, public_figshare,
                                                       dcor_paths):
    fake = public_figshare
    cases = {}
    for number, base in enumerate([
            "http://169.254.169.254",  # link-local: cloud metadata
            "http://10.1.2.3",  # private
            f"http://[::1]:{fake.server.server_address[1]}",  # loopback
            "http://0.0.0.0"]):  # unspecified
        doi = fake.add(5000 + number, 1, [("a.txt", b"secret", {})],
                       base=base)
        cases[doi] = f"{base}/files/{(5000 + number) * 100 + 1}"
    # a global address that redirects to loopback
    doi = fake.add(5010, 1, [("a.txt", b"secret", {})], base=PUBLIC)
    internal = f"{fake.url}/files/501099"
    fake.files["/files/501099"] = b"secret"
    fake.redirects["/files/501001"] = internal
    cases[doi] = internal
    result = run(cli, *[arg for doi in cases for arg in ("--doi", doi)])
    assert result.exit_code == 1
    assert f"0 imported, {len(cases)} failed" in result.output
    for doi, url in cases.items():
        errors = [line for line in result.output.splitlines()
                  if line.startswith(f"{doi}: failed")]
        assert len(errors) == 1 and url in errors[0], result.output
        assert "refus" in errors[0]
    for number in range(4):
        assert fake.hits[f"/files/{(5000 + number) * 100 + 1}"] == 0
    assert fake.hits["/files/501001"] == 1
    assert fake.hits["/files/501099"] == 0
    assert files_below(dcor_paths["depots_path"]) == []


def test_downloads_from_a_global_address_work(cli, public_figshare,
                                              dcor_paths):
    fake = public_figshare
    doi = fake.add(5020, 1, [("a.txt", b"public", {})], base=PUBLIC)
    fake.files["/files/other"] = b"public"
    fake.redirects["/files/502001"] = f"{PUBLIC}:8080/files/other"
    result = run(cli, "--doi", doi)
    assert result.exit_code == 0, result.output
    resource = dataset_of(doi)["resources"][0]
    assert resource_bytes(dcor_paths, resource) == b"public"


def test_redirect_to_another_scheme_is_refused(cli, figshare, dcor_paths):
    """Even from a local fixture: only http(s), checked at every hop."""
    doi = figshare.add(5030, 1, [("a.txt", b"aaa", {})])
    figshare.redirects["/files/503001"] = "file:///etc/passwd"
    result = run(cli, "--doi", doi)
    assert result.exit_code == 1
    error, = [line for line in result.output.splitlines()
              if line.startswith(f"{doi}: failed")]
    assert "refus" in error and "file:///etc/passwd" in error
    assert figshare.hits["/files/503001"] == 1  # not retried
    assert files_below(dcor_paths["depots_path"]) == []


def test_computed_md5_wins_over_supplied_md5(cli, figshare, dcor_paths):
    doi = figshare.add(5040, 1, [("a.txt", b"aaa", {
        "supplied_md5": "0" * 32})])
    result = run(cli, "--doi", doi)
    assert result.exit_code == 0, result.output
    assert dataset_of(doi)["resources"][0]["md5"] == \
        hashlib.md5(b"aaa").hexdigest()


@pytest.mark.parametrize("capacity", ["admin", "editor"])
def test_circle_with_a_member_who_may_edit_is_refused(cli, figshare,
                                                      dcor_paths, capacity):
    """Users may create organizations: a figshare-import circle that
    someone else administers would get the imported datasets."""
    user = factories.User()
    factories.Organization(name=metadata.FIGSHARE_CIRCLE, users=[
        {"name": user["name"], "capacity": capacity}])
    doi = figshare.add(5050, 1, [("a.txt", b"aaa", {})])
    result = run(cli, "--doi", doi)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert metadata.FIGSHARE_CIRCLE in lines[0] and user["name"] in lines[0]
    assert sum(figshare.hits.values()) == 0
    with pytest.raises(tk.ObjectNotFound):
        dataset_of(doi)
    assert files_below(dcor_paths["depots_path"]) == []


def test_circle_administered_by_sysadmins_is_used(cli, figshare, dcor_paths):
    admin = factories.Sysadmin()
    factories.Organization(name=metadata.FIGSHARE_CIRCLE, users=[
        {"name": admin["name"], "capacity": "admin"}])
    doi = figshare.add(5051, 1, [("a.txt", b"aaa", {})])
    result = run(cli, "--doi", doi)
    assert result.exit_code == 0, result.output


# reorganisation: retries, temporary files

def test_attempts_come_from_the_figshare_setting(cli, figshare, dcor_paths,
                                                 ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config,
                        "ckanext.dcor_depot.figshare_max_attempts", 2)
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.s3_max_attempts",
                        5)
    doi = figshare.add(5060, 1, [("a.txt", b"aaa", {})])
    article = "/articles/5060/versions/1"
    figshare.faults[article] = ["500", "500", "500"]
    result = run(cli, "--doi", doi)
    assert result.exit_code == 1
    assert f"{figshare.url}{article}: gave up after 2 attempts (HTTP 500)" \
        in result.output
    assert figshare.hits[article] == 2


def test_connection_errors_give_up_naming_the_url(cli, figshare, dcor_paths,
                                                  ckan_config, monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setitem(ckan_config, "ckanext.dcor_depot.figshare_api_url",
                        url)
    monkeypatch.setitem(ckan_config,
                        "ckanext.dcor_depot.figshare_max_attempts", 3)
    result = run(cli, "--doi", "10.6084/m9.figshare.5070.v1")
    assert result.exit_code == 1
    error, = [line for line in result.output.splitlines()
              if "failed:" in line]
    assert f"{url}/articles/5070/versions/1: gave up after 3 attempts" \
        in error


def test_retry_after_is_honoured_and_capped(figshare):
    figshare.add(5080, 1, [("a.txt", b"aaa", {})])
    article = "/articles/5080/versions/1"
    client = FigshareClient(figshare.url, max_attempts=3,
                            retry_after_cap=0.5)
    figshare.faults[article] = ["429-huge-wait", "503-garbled-wait"]
    start = time.monotonic()
    assert client.article(5080, 1)["id"] == 5080
    assert time.monotonic() - start < 10
    assert figshare.hits[article] == 3


def test_killed_import_resumes_its_download(cli, figshare, dcor_paths,
                                            worker_ini, tmp_path):
    """SIGKILL in the middle of a download leaves a partial file that a
    re-run resumes with Range, and that depot.remove_stale_temps knows as
    a temporary file of the target."""
    data = os.urandom(3 * 1024**2)
    doi = figshare.add(5090, 1, [("big.rtdc", data, {})])
    path = "/files/509001"
    figshare.faults[path] = ["stall"]
    worker_ini.write_text(worker_ini.read_text().replace(
        "[app:main]\n", "[app:main]\nckanext.dcor_depot.figshare_api_url = "
        f"{figshare.url}\n", 1))
    folder = figshare_folder(dcor_paths, doi)
    importer = start_ckan(worker_ini, "import-figshare", "--doi", doi)
    try:
        deadline = time.monotonic() + 120
        while not (folder.is_dir() and any(
                entry.stat().st_size >= 1024**2
                for entry in os.scandir(folder))):
            assert importer.poll() is None, "the import ended by itself"
            assert time.monotonic() < deadline, "no partial download"
            time.sleep(0.05)
    finally:
        os.killpg(importer.pid, signal.SIGKILL)
        importer.wait(30)
        figshare.release.set()
    part, = os.listdir(folder)
    kept = (folder / part).stat().st_size
    assert 0 < kept < len(data)

    # the partial file counts as a temporary file of the target ...
    aside = tmp_path / "aside"
    os.link(folder / part, aside)
    assert depot.remove_stale_temps(str(folder / "big.rtdc")) == 1
    assert os.listdir(folder) == []
    os.link(aside, folder / part)  # ... put back as the kill left it

    result = run(cli, "--doi", doi)
    assert result.exit_code == 0, result.output
    assert figshare.ranges[path] == [None, kept]
    resource = dataset_of(doi)["resources"][0]
    assert resource["sha256"] == hashlib.sha256(data).hexdigest()
    assert resource_bytes(dcor_paths, resource) == data
    assert os.listdir(folder) == ["big.rtdc"]


def test_download_that_stops_short_is_resumed_by_the_next_run(
        cli, figshare, dcor_paths, ckan_config, monkeypatch):
    """When every attempt of a run breaks off, the bytes so far stay for the
    next run, which asks only for the rest."""
    monkeypatch.setitem(ckan_config,
                        "ckanext.dcor_depot.figshare_max_attempts", 2)
    data = os.urandom(4 * 1024**2)
    doi = figshare.add(5100, 1, [("big.rtdc", data, {})])
    path = "/files/510001"
    figshare.faults[path] = ["drop", "drop"]
    first = run(cli, "--doi", doi)
    assert first.exit_code == 1
    assert "stopped at" in first.output and "next run resumes" in \
        first.output
    half, three_quarters = len(data) // 2, len(data) // 2 + len(data) // 4
    assert figshare.ranges[path] == [None, half]
    again = run(cli, "--doi", doi)
    assert again.exit_code == 0, again.output
    assert figshare.ranges[path] == [None, half, three_quarters]
    resource = dataset_of(doi)["resources"][0]
    assert resource_bytes(dcor_paths, resource) == data


def test_file_name_without_usable_characters(cli, figshare, dcor_paths):
    doi = figshare.add(5110, 1, [("..", b"dots", {})])
    result = run(cli, "--doi", doi)
    assert result.exit_code == 1
    error, = [line for line in result.output.splitlines()
              if line.startswith(f"{doi}: failed")]
    assert "no usable characters" in error
    assert files_below(dcor_paths["depots_path"]) == []
    with pytest.raises(tk.ObjectNotFound):
        dataset_of(doi)


@pytest.mark.parametrize("url, refused", [
    ("https://93.184.215.14/files/1", None),
    ("http://[2606:4700::1111]/x", None),
    ("http://127.0.0.2/x", "non-public"),
    ("http://[::ffff:127.0.0.1]/x", "non-public"),  # IPv4 in IPv6
    ("http://2130706433/x", "non-public"),  # 127.0.0.1 as one number
    ("http://100.64.0.1/x", "non-public"),  # shared address space
    ("http://192.168.1.1/x", "non-public"),
    ("http://[fe80::1]/x", "non-public"),
    ("http://[fc00::1]/x", "non-public"),
    ("http://224.0.0.1/x", "non-public"),  # multicast
    ("http://240.0.0.1/x", "non-public"),  # reserved
    ("ftp://93.184.215.14/x", "not http or https"),
    ("file:///etc/passwd", "not http or https"),
    ("http:///x", "no host"),
    ("http://[::1/x", "refusing"),
    (["http://93.184.215.14/x"], "not text"),
])
def test_which_urls_a_download_may_go_to(url, refused):
    client = FigshareClient(PUBLIC)  # a global API: the strict rule
    if refused is None:
        client.check_url(url)
    else:
        with pytest.raises(FigshareError, match=refused) as info:
            client.check_url(url)
        assert "\n" not in str(info.value)
    local = FigshareClient("http://127.0.0.1:9")  # a local fixture
    if refused in (None, "non-public"):
        local.check_url(url)


def test_empty_file_is_imported(cli, figshare, dcor_paths):
    doi = figshare.add(5120, 1, [("empty.txt", b"", {})])
    result = run(cli, "--doi", doi)
    assert result.exit_code == 0, result.output
    resource = dataset_of(doi)["resources"][0]
    assert resource_bytes(dcor_paths, resource) == b""
    assert resource["sha256"] == hashlib.sha256(b"").hexdigest()
    assert os.listdir(figshare_folder(dcor_paths, doi)) == ["empty.txt"]
