"""Every bad input gets a one-line error, a non-zero exit, and no local
file with wrong bytes under a final name; nothing is created on the
site."""
import os
import subprocess

import pytest

from ckan.tests import factories

from ..helpers import file_sha256, upload_directly, write_random_file
from .conftest import DCOR_DEPOT, one_line_error
from .fake_site import FakeSite

MB = 1024**2


def run(site, *args, token="token", timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCOR_")}
    if site:
        env["DCOR_SITE"] = site
    if token:
        env["DCOR_API_TOKEN"] = token
    return subprocess.run([DCOR_DEPOT, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env)


def a_folder(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.rtdc").write_bytes(b"a" * 1000)
    (folder / "b.tsv").write_bytes(b"b" * 100)
    return folder


# the site, the token, the circle, the dataset

@pytest.mark.parametrize("command", [
    ["datasets"], ["download", "ds", "target"],
    ["upload", "circle", "ds", "."]])
def test_missing_site_or_token(tmp_path, command):
    one_line_error(run(None, *command), "no site given")
    one_line_error(run("http://127.0.0.1:9", *command, token=None),
                   "no API token given")


def test_unknown_site(tmp_path):
    with FakeSite() as fake:   # a port that was free a moment ago
        closed = fake.url
    one_line_error(run(closed, "datasets"), "cannot reach", closed)
    one_line_error(run("http://no-such-host.invalid", "download", "ds",
                       tmp_path), "cannot reach")
    one_line_error(run("ftp://example.org", "datasets"), "not a site URL")


@pytest.mark.parametrize("body, kind", [
    (b"<html><body>Welcome to nginx</body></html>", "text/html"),
    (b"{not json", "application/json"),
])
def test_html_instead_of_json(tmp_path, body, kind):
    with FakeSite() as fake:
        fake.routes["*"] = (200, {"Content-Type": kind}, body)
        result = run(fake.url, "download", "ds", tmp_path / "t")
    one_line_error(result, "not CKAN's JSON", "is it a CKAN site?")
    assert not (tmp_path / "t").exists()


def test_transient_errors_are_retried(tmp_path):
    data = os.urandom(50_000)
    answers = []

    def flaky(handler):
        answers.append(1)
        if len(answers) <= 2:
            handler.answer(503, {"Retry-After": "1"}, b"busy")
        else:
            handler.answer(200, {"Content-Type": "application/octet-stream"},
                           data)

    with FakeSite() as fake:
        fake.logged_in()
        fake.dataset("ds", {"ds/a.bin": data})
        fake.routes["/file/0"] = flaky
        result = run(fake.url, "download", "ds", tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(answers) == 3
    assert (tmp_path / "ds" / "a.bin").read_bytes() == data


@pytest.mark.parametrize("path", [
    "../escape/a.bin", "/etc/escape", "ds/../../escape", "ds/sub/../../..",
    "ds/a\\..\\b", "ds/sub/deeper.bin", "other/a.bin", "ds/fine.bin"])
def test_manifest_paths_leaving_target(tmp_path, path):
    root = tmp_path / "root"
    root.mkdir()
    with FakeSite() as fake:
        fake.logged_in()
        entries = fake.dataset("ds", {"ds/fine.bin": b"fine",
                                      "ds/x": b"evil"})
        entries[1]["path"] = path  # the second file gets the path tested
        fake.action("dataset_manifest", {"dataset": "ds", "complete": True,
                                         "files": entries})
        result = run(fake.url, "download", "ds", root / "target")
    one_line_error(result, "refused the site's manifest")
    # refused before anything was written
    assert os.listdir(root) == []


def test_server_ignoring_range_and_wrong_bytes(tmp_path):
    data = os.urandom(3 * MB)
    with FakeSite() as fake:
        fake.logged_in()
        fake.dataset("ds", {"ds/a.bin": data})
        # a .part of a broken run; the server answers 200 to the Range
        (tmp_path / "ds").mkdir()
        (tmp_path / "ds" / "a.bin.part").write_bytes(data[:MB])
        result = run(fake.url, "download", "ds", tmp_path, "-v")
        assert result.returncode == 0, result.stderr
        assert "the server ignored Range for ds/a.bin" in result.stderr
        assert fake.requests[-1][2]["Range"] == f"bytes={MB}-"
        # the whole file came once, and was counted once
        assert f"1 fetched, 0 already present, 0 failed, {3 * MB} bytes" \
            in result.stdout
        assert (tmp_path / "ds" / "a.bin").read_bytes() == data

        # now the server sends other bytes than its manifest says: the
        # local file stays as it was, under its name
        fake.routes["/file/0"] = (200, {}, os.urandom(3 * MB))
        (tmp_path / "ds" / "a.bin").write_bytes(b"old" * 10)
        result = run(fake.url, "download", "ds", tmp_path)
        one_line_error(result, "ds/a.bin", "does not match the manifest")
        assert "0 fetched, 0 already present, 1 failed" in result.stdout
        assert (tmp_path / "ds" / "a.bin").read_bytes() == b"old" * 10
        assert not (tmp_path / "ds" / "a.bin.part").exists()


def test_target_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with FakeSite() as fake:
        fake.logged_in()
        fake.dataset("ds", {"ds/a.bin": b"a"})
        result = run(fake.url, "download", "ds", tmp_path / "file")
    one_line_error(result, "is not a folder")
    assert (tmp_path / "file").read_text() == "x"


# against the real site

@pytest.mark.ckan_config("ckan.plugins", "dcor_depot")
@pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins")
def test_bad_token_unknown_circle_and_dataset(account, tmp_path):
    folder = a_folder(tmp_path)
    for command in (["datasets"], ["download", "ds", tmp_path / "t"],
                    ["upload", account.circle["name"], "ds", folder]):
        one_line_error(account.run(*command, env=account.env(
            DCOR_API_TOKEN="not-a-token")), "API token is not valid")
    one_line_error(account.run("download", "no-such-dataset", tmp_path / "t"),
                   "no such dataset: no-such-dataset")
    assert not (tmp_path / "t").exists()
    one_line_error(account.run("upload", "no-such-circle", "ds", folder),
                   "no such circle: no-such-circle")
    # another user's private dataset is not there for this token
    other = factories.Organization()
    factories.Dataset(owner_org=other["id"], private=True, name="hidden")
    one_line_error(account.run("download", "hidden", tmp_path / "t"),
                   "may not read the dataset hidden")
    # and a circle where the user may not create datasets
    one_line_error(account.run("upload", other["name"], "ds", folder),
                   "package_create refused")
    assert account.show("ds") is None


def add_file(folder, name):
    """A file the folder's manifest does not know (so it goes too)."""
    os.remove(folder / "MANIFEST.sha256")
    (folder / name).write_bytes(b"data")


@pytest.mark.ckan_config("ckan.plugins", "dcor_depot")
@pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins")
@pytest.mark.parametrize("change, problem", [
    (lambda f: (f / "a.rtdc").write_bytes(b"x" * 1000), "mismatch: a.rtdc"),
    (lambda f: (f / "b.tsv").unlink(), "missing: b.tsv"),
    (lambda f: (f / "c.txt").write_bytes(b"c"), "untracked: c.txt"),
    (lambda f: open(f / "MANIFEST.sha256", "a").write("garbage\n"),
     "line 3 is not"),
    (lambda f: open(f / "MANIFEST.sha256", "a").write(
        f"{'0' * 64}  ../../etc/passwd\n"), "leaves the folder"),
    (lambda f: ((f / "sub").mkdir(), (f / "sub" / "x").write_text("x"),
                os.remove(f / "MANIFEST.sha256")), "sub-folder"),
    # issue 23, items 4 and 5: names refused before anything is created
    (lambda f: add_file(f, "tab\there.txt"), "holds the control character "
     "U+0009; rename it; nothing was uploaded"),
    (lambda f: add_file(f, "line\u2028break.txt"),
     "control character U+2028"),
    (lambda f: add_file(f, "next\x85line.txt"), "control character U+0085"),
    (lambda f: add_file(f, "b.tsv "), "would be one file of the dataset "
     "('b.tsv', and names differing only in case are one file on macOS and"
     " Windows); rename one of them; nothing was uploaded"),
    (lambda f: add_file(f, "A.rtdc"), "'A.rtdc' and 'a.rtdc' in"),
    (lambda f: add_file(f, " MANIFEST.sha256"),
     "the dataset's MANIFEST.sha256 and ' MANIFEST.sha256' in"),
    (lambda f: add_file(f, "\u200b"), "file name has no usable characters"),
])
def test_upload_refused_before_any_byte(account, tmp_path, s3_client,
                                        change, problem):
    folder = a_folder(tmp_path)
    assert account.run("manifest", folder).returncode == 0
    change(folder)
    result = account.run("upload", account.circle["name"], "refused", folder)
    one_line_error(result, problem)
    assert account.show("refused") is None
    # not even a bucket or an issued upload
    assert not any(bucket["Name"].endswith(account.circle["id"])
                   for bucket in s3_client.list_buckets()["Buckets"])


@pytest.mark.ckan_config("ckan.plugins", "dcor_depot")
@pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins")
def test_incomplete_manifest_and_partial(account, app, run_worker,
                                         tmp_path):
    folder = a_folder(tmp_path)
    result = account.run("upload", account.circle["name"], "growing", folder)
    assert result.returncode == 0, result.stderr
    run_worker()
    dataset = account.show("growing")
    # one more file, not yet processed by the worker: no sha256
    upload_directly(app, account.token, account.circle["id"], dataset["id"],
                    b"late" * 100)
    target = tmp_path / "target"
    one_line_error(account.run("download", "growing", target),
                   "growing is not complete", "1 of 4 files", "--partial")
    assert not (target / "growing").exists()
    result = account.run("download", "growing", target, "--partial")
    assert result.returncode == 0, result.stderr
    assert "3 fetched" in result.stdout
    assert "1 not yet verifiable (left out)" in result.stdout
    assert (target / "growing" / "a.rtdc").read_bytes() == b"a" * 1000
    assert not (target / "growing" / "cells.rtdc").exists()


@pytest.mark.ckan_config("ckan.plugins", "dcor_depot")
@pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins")
def test_full_disk(account, app, run_worker, tmp_path):
    dataset = factories.Dataset(owner_org=account.circle["id"],
                                name="too-big", user=account.user)
    source = tmp_path / "big.bin"
    digest = write_random_file(source, 3 * MB)
    upload_directly(app, account.token, account.circle["id"], dataset["id"],
                    source.read_bytes())
    run_worker()
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m",
                              "tmpfs", str(small)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {mounted.stderr!r}")
    try:
        result = account.run("download", "too-big", small)
        one_line_error(result, "too-big/cells.rtdc",
                       "No space left on device")
        assert "0 fetched, 0 already present, 1 failed" in result.stdout
        assert not (small / "too-big" / "cells.rtdc").exists()
        # what was written is a correct prefix, kept for a resume
        part = (small / "too-big" / "cells.rtdc.part").read_bytes()
        assert 0 < len(part) <= MB
        assert part == source.read_bytes()[:len(part)]
    finally:
        subprocess.run(["umount", str(small)], check=True)
    result = account.run("download", "too-big", small)
    assert result.returncode == 0, result.stderr
    assert file_sha256(small / "too-big" / "cells.rtdc") == digest


@pytest.mark.ckan_config("ckan.plugins", "dcor_depot")
@pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins")
def test_draft_with_a_file_the_folder_lacks(account, app, tmp_path):
    """A draft (of an earlier run) holding a file that is no longer in the
    folder is not completed: its manifest would not cover that file."""
    draft = factories.Dataset(owner_org=account.circle["id"], name="drafty",
                              state="draft", user=account.user)
    upload_directly(app, account.token, account.circle["id"], draft["id"],
                    b"gone" * 100)
    folder = a_folder(tmp_path)
    result = account.run("upload", account.circle["name"], "drafty", folder)
    one_line_error(result, "holds cells.rtdc", "does not have")
    dataset = account.show("drafty")
    assert dataset["state"] == "draft"
    assert [r["name"] for r in dataset["resources"]] == ["cells.rtdc"]
