"""Manifest paths and format (pure), shared by the site, the archives and
the client."""
import hashlib
import subprocess

import pytest

from ckanext.dcor_depot import manifest

A, B, C = ("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
           "1a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
           "2a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")


@pytest.mark.parametrize("dataset,resources,paths", [
    ("cells", [(A, "a.rtdc"), (B, "b.rtdc")], ["cells/a.rtdc", "cells/b.rtdc"]),
    # taken twice: the later one gets its id
    ("cells", [(A, "a.rtdc"), (B, "a.rtdc")],
     ["cells/a.rtdc", f"cells/{B}_a.rtdc"]),
    # names that would leave the folder
    ("cells", [(A, "../../etc/passwd"), (B, "x/y")],
     ["cells/_.._etc_passwd", "cells/x_y"]),
    # nothing usable: the resource id
    ("cells", [(A, "..."), (B, "")], [f"cells/{A}", f"cells/{B}"]),
    ("../up", [(C, "a")], ["_up/a"]),
])
def test_download_paths(dataset, resources, paths):
    assert manifest.download_paths(dataset, resources) == paths
    # the same answer on every call
    assert manifest.download_paths(dataset, resources) == paths


def test_text_round_trip_and_sha256sum(tmp_path):
    folder = tmp_path / "cells"
    folder.mkdir()
    entries = []
    for name, data in (("a b.rtdc", b"x"), ("ü.tsv", b"yy")):
        (folder / name).write_bytes(data)
        entries.append((hashlib.sha256(data).hexdigest(), f"cells/{name}"))
    text = manifest.manifest_text(entries, comment="incomplete: 1 pending")
    assert text.startswith("# incomplete")
    assert manifest.parse_manifest(text) == entries
    (tmp_path / "MANIFEST.sha256").write_text(text)
    result = subprocess.run(["sha256sum", "--strict", "-c",
                             "MANIFEST.sha256"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": OK") == 2


@pytest.mark.parametrize("line", [
    "abc  x", "0" * 64 + " x", "0" * 64 + "  /etc/passwd",
    "0" * 64 + "  a/../../b", "0" * 64 + "  ", "0" * 64 + "  a\\b",
    "0" * 64 + "  ./a",
])
def test_bad_lines_are_refused(line):
    with pytest.raises(manifest.BadManifest, match="line 2"):
        manifest.parse_manifest("# a comment\n" + line + "\n")
