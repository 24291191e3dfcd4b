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


# issue 23, item 6: lines end at "\n" only, as for sha256sum

@pytest.mark.parametrize("odd", ["\u2028", "\u2029", "\u0085"])
def test_names_with_unicode_line_breaks_read_back(odd, tmp_path):
    """str.splitlines() ends a line at each of these; sha256sum does not,
    and neither does our reader."""
    name = f"a{odd}b.txt"
    entries = [(hashlib.sha256(b"x").hexdigest(), "cells/plain.txt"),
               (hashlib.sha256(b"y").hexdigest(), f"cells/{name}")]
    text = manifest.manifest_text(entries)
    assert manifest.parse_manifest(text) == entries
    (tmp_path / "cells").mkdir()
    (tmp_path / "cells" / "plain.txt").write_bytes(b"x")
    (tmp_path / "cells" / name).write_bytes(b"y")
    (tmp_path / "MANIFEST.sha256").write_text(text, encoding="utf-8")
    check = subprocess.run(["sha256sum", "--strict", "-c",
                            "MANIFEST.sha256"], cwd=tmp_path,
                           capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("odd", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e"])
def test_c0_line_breaks_are_one_bad_line(odd):
    """Also line ends for str.splitlines(): here a control character in
    line 1, not a cut line."""
    with pytest.raises(manifest.BadManifest,
                       match="line 1: .* control character"):
        manifest.parse_manifest(f"{'0' * 64}  cells/a{odd}b\n")


def test_crlf_and_escaped_lines():
    digest = "0" * 64
    # sha256sum -c drops the "\r" of a line written on Windows
    assert manifest.parse_manifest(f"{digest}  a/b.txt\r\n") == \
        [(digest, "a/b.txt")]
    # GNU sha256sum writes a name holding "\\" or "\n" escaped, after a
    # leading backslash: such a name is no path of ours, said in one line
    with pytest.raises(manifest.BadManifest, match="line 2 names a file "
                       "with a backslash, newline or carriage return"):
        manifest.parse_manifest(f"{digest}  a/b\n\\{digest}  a/c\\\\d\n")
