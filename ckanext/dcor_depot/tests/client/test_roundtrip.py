"""Upload a folder, download it into an empty folder, verify with
`sha256sum -c`; re-download after corrupting one file."""
import re
import subprocess

import pytest

import ckan.plugins.toolkit as tk

from ckanext.dcor_depot.client.part_file import FLUSH_BYTES

from ..helpers import file_sha256, page_cache_bytes, write_random_file
from .conftest import PART_SIZE

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

MB = 1024**2


def show(dataset):
    return tk.get_action("package_show")({"ignore_auth": True},
                                         {"id": dataset})


def make_folder(folder, sizes):
    folder.mkdir()
    digests = {}
    for number, (name, size) in enumerate(sizes.items()):
        digests[name] = write_random_file(folder / name, size, seed=number)
    return digests


def test_upload_download_sha256sum(account, run_worker, tmp_path):
    source = tmp_path / "source"
    digests = make_folder(source, {"cells.rtdc": 120 * MB + 13,
                                   "features.tsv": 70_000,
                                   "notes.txt": 11})
    (source / ".hidden").write_text("not part of the dataset")

    wrote = account.run("manifest", source)
    assert wrote.returncode == 0, wrote.stderr
    result = account.run("upload", account.circle["name"], "roundtrip",
                         source, "--title", "Round trip", "-v")
    assert result.returncode == 0, result.stderr
    assert "3 uploaded" in result.stdout

    dataset = show("roundtrip")
    assert dataset["state"] == "active" and dataset["private"] is True
    assert dataset["title"] == "Round trip"
    names = [r["name"] for r in dataset["resources"]]
    # the manifest is the last resource, every file is there once (the
    # files go up in parallel, in any order)
    assert names[-1] == "MANIFEST.sha256"
    assert sorted(names[:-1]) == ["cells.rtdc", "features.tsv", "notes.txt"]
    big, = [r for r in dataset["resources"] if r["name"] == "cells.rtdc"]
    assert big["url_type"] == "s3_upload"
    # a multipart upload of 10 MiB parts: S3's ETag says so
    assert big["etag"].endswith(f"-{-(-(120 * MB + 13) // PART_SIZE)}")

    run_worker()  # backups set sha256: the manifest becomes complete
    for resource in show("roundtrip")["resources"][:-1]:
        assert resource["sha256"] == digests[resource["name"]]

    target = tmp_path / "target"
    result = account.run("download", "roundtrip", target, "--log-file",
                         tmp_path / "download.log")
    assert result.returncode == 0, result.stderr
    assert re.search(r"roundtrip: 4 fetched, 0 already present, 0 failed",
                     result.stdout), result.stdout
    folder = target / "roundtrip"
    # written behind: of the 120 MB file, at most the bytes after its last
    # flush stay in the page cache (before anything reads it again)
    cached = page_cache_bytes(folder / "cells.rtdc")
    assert cached is None or cached <= FLUSH_BYTES, cached
    check = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"],
                           cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 3
    for name, digest in digests.items():
        assert file_sha256(folder / name) == digest
    assert not list(folder.glob("*.part"))
    # the client's own check agrees
    assert account.run("manifest", "--check", folder).returncode == 0

    # one corrupted file: exactly that one is fetched again
    with open(folder / "features.tsv", "r+b") as handle:
        handle.seek(1000)
        handle.write(b"X")
    result = account.run("download", "roundtrip", target, "-v")
    assert result.returncode == 0, result.stderr
    assert "1 fetched, 3 already present, 0 failed, 70000 bytes" \
        in result.stdout
    assert "differs from the manifest, fetching again: " \
        "roundtrip/features.tsv" in result.stderr
    assert file_sha256(folder / "features.tsv") == digests["features.tsv"]
    log_text = (tmp_path / "download.log").read_text()
    for name in digests:
        assert f"fetched roundtrip/{name}: " in log_text

    # and nothing at all the next time; DCOR_DEPOT_LOGLEVEL as -v
    result = account.run("download", "roundtrip", target,
                         env=account.env(DCOR_DEPOT_LOGLEVEL="DEBUG"))
    assert "0 fetched, 4 already present, 0 failed, 0 bytes" \
        in result.stdout
    assert "already present: roundtrip/notes.txt" in result.stderr

    # the same as a library
    from ckanext.dcor_depot.client import Client
    client = Client(account.site, account.token)
    report = client.download("roundtrip", target)
    assert report.ok and report.count("skipped") == 4
    assert client.manifest("roundtrip")["complete"] is True
    assert [d.name for d in client.datasets()] == ["roundtrip"]
    assert client.datasets()[0].files == 4


def test_names_the_site_changes_round_trip(account, run_worker, tmp_path):
    """Issue 23, item 4: the client names each file as the site does
    (naming.safe_name), so a download of what it uploaded verifies."""
    long_name = "long-" + "\u00e9" * 120 + ".rtdc"   # 250 bytes of UTF-8
    stored_as = {
        "cafe\u0301.txt": "caf\u00e9.txt",            # NFD, as macOS writes
        "trailing.txt ": "trailing.txt",
        "zero\u200bwidth.txt": "zero_width.txt",
        long_name: "long-" + "\u00e9" * 97,          # cut at 200 bytes
    }
    source = tmp_path / "source"
    source.mkdir()
    digests = {}
    for number, name in enumerate(stored_as):
        digests[stored_as[name]] = write_random_file(
            source / name, 1000 + number, seed=number)

    result = account.run("upload", account.circle["name"], "names", source)
    assert result.returncode == 0, result.stderr
    assert "4 uploaded" in result.stdout
    assert "'cafe\u0301.txt' is stored as 'caf\u00e9.txt' (its Unicode NFC " \
        "form), as the site names it" in result.stderr
    assert "'trailing.txt ' is stored as 'trailing.txt'" in result.stderr
    names = [r["name"] for r in show("names")["resources"]]
    assert sorted(names) == sorted([*stored_as.values(), "MANIFEST.sha256"])
    run_worker()

    target = tmp_path / "target"
    result = account.run("download", "names", target)
    assert result.returncode == 0, result.stderr
    assert "5 fetched, 0 already present, 0 failed" in result.stdout
    folder = target / "names"
    check = subprocess.run(["sha256sum", "--strict", "-c",
                            "MANIFEST.sha256"], cwd=folder,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 4
    for name, digest in digests.items():
        assert file_sha256(folder / name) == digest
