"""Whole archives from real files read back with Python's zipfile and
tarfile, GNU tar, unzip (where installed), and checked with coreutils'
`sha256sum -c MANIFEST.sha256` after extraction."""
from __future__ import annotations

import calendar
import dataclasses
import io
import shutil
import subprocess
import tarfile
import time
import zipfile

import pytest

from ckanext.dcor_depot.downloads import archive_layout
from ckanext.dcor_depot.downloads.archive_layout import MANIFEST_PATH, Member

from .archive_files import TREE, make_members, stream_bytes


def sha256sum_check(folder) -> list[str]:
    """Run the real `sha256sum -c` in `folder`; return its OK lines."""
    done = subprocess.run(["sha256sum", "--strict", "-c", MANIFEST_PATH],
                          cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_zip_reads_back_member_by_member_and_verifies(tmp_path):
    members, store = make_members(tmp_path / "store")
    layout = archive_layout.build(members, "zip")
    data = stream_bytes(layout, store)
    assert len(data) == layout.length
    assert layout.ranges_supported
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == [*TREE, MANIFEST_PATH]
        assert archive.testzip() is None  # every CRC-32 checked
        for member, info in zip(members, archive.infolist()):
            assert archive.read(info) == store.path(member.key).read_bytes()
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.flag_bits & 0x800  # UTF-8 name
            assert not info.flag_bits & 0x8  # CRC known: no data descriptor
            assert info.external_attr >> 16 == 0o100644
            utc = time.gmtime(member.mtime - member.mtime % 2)
            assert info.date_time == tuple(utc[:6])
        archive.extractall(tmp_path / "out")
    lines = sha256sum_check(tmp_path / "out")
    assert lines == [f"{path}: OK" for path in TREE]
    if shutil.which("unzip"):  # Info-ZIP, an independent reader
        (tmp_path / "a.zip").write_bytes(data)
        tested = subprocess.run(["unzip", "-tq", str(tmp_path / "a.zip")],
                                capture_output=True, text=True)
        assert tested.returncode == 0, tested.stdout + tested.stderr


def test_tar_reads_back_member_by_member_and_verifies(tmp_path):
    members, store = make_members(tmp_path / "store")
    layout = archive_layout.build(members, "tar")
    data = stream_bytes(layout, store)
    assert len(data) == layout.length
    assert len(data) % 512 == 0 and data.endswith(bytes(1024))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        infos = archive.getmembers()
        assert [i.name for i in infos] == [*TREE, MANIFEST_PATH]
        for member, info in zip(members, infos):
            assert info.isreg() and info.size == member.size
            assert (info.mode, info.uid, info.gid) == (0o644, 0, 0)
            assert (info.uname, info.gname) == ("", "")
            assert info.mtime == member.mtime
            assert archive.extractfile(info).read() == \
                store.path(member.key).read_bytes()
        # the long and the non-ASCII names needed pax records
        long_info = archive.getmember(next(p for p in TREE if "x" * 140 in p))
        assert "path" in long_info.pax_headers
    archive_path = tmp_path / "a.tar"
    archive_path.write_bytes(data)
    (tmp_path / "out").mkdir()
    extracted = subprocess.run(  # GNU tar, without RECORDSIZE padding
        ["tar", "-xf", str(archive_path), "-C", str(tmp_path / "out")],
        capture_output=True, text=True)
    assert extracted.returncode == 0 and extracted.stderr == ""
    lines = sha256sum_check(tmp_path / "out")
    assert lines == [f"{path}: OK" for path in TREE]


@pytest.mark.parametrize("comptype", ["zip", "tar"])
def test_manifest_is_the_last_member_in_sha256sum_format(tmp_path, comptype):
    members, store = make_members(tmp_path / "store")
    layout = archive_layout.build(members, comptype)
    expected = "".join(f"{m.sha256}  {m.path}\n" for m in members).encode()
    assert layout.manifest == expected
    assert layout.members[-1].path == MANIFEST_PATH
    tail = stream_bytes(layout, store)[-(len(expected) + 4096):]
    assert expected in tail


@pytest.mark.parametrize("comptype", ["zip", "tar"])
def test_bytes_and_etag_are_a_function_of_the_members(tmp_path, comptype):
    members, store = make_members(tmp_path / "store")
    first = archive_layout.build(members, comptype)
    again = archive_layout.build(list(members), comptype)
    assert stream_bytes(first, store) == stream_bytes(again, store)
    assert first.etag == again.etag and len(first.etag) == 64
    other_type = {"zip": "tar", "tar": "zip"}[comptype]
    other = archive_layout.build(members, other_type)
    assert other.etag != first.etag
    changed = [dataclasses.replace(members[0], sha256="0" * 64), *members[1:]]
    assert archive_layout.build(changed, comptype).etag != first.etag
    renamed = [dataclasses.replace(members[0], path="a/b"), *members[1:]]
    assert archive_layout.build(renamed, comptype).etag != first.etag
    rekeyed = [dataclasses.replace(members[0], key="other"), *members[1:]]
    assert archive_layout.build(rekeyed, comptype).etag != first.etag


def test_zip_dos_times_are_utc_whatever_the_server_zone(tmp_path, monkeypatch):
    members, store = make_members(tmp_path / "store")
    utc_bytes = stream_bytes(archive_layout.build(members, "zip"), store)
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14
    time.tzset()
    try:
        assert stream_bytes(archive_layout.build(members, "zip"), store) \
            == utc_bytes
    finally:
        monkeypatch.undo()
        time.tzset()


def test_mtimes_outside_the_dos_range_are_clamped_in_zip(tmp_path):
    members, store = make_members(tmp_path / "store")
    early = dataclasses.replace(members[0], mtime=0)
    late = dataclasses.replace(members[1], mtime=calendar.timegm(
        (2200, 1, 1, 0, 0, 0)))
    layout = archive_layout.build([early, late], "zip")
    with zipfile.ZipFile(io.BytesIO(stream_bytes(layout, store))) as archive:
        assert archive.infolist()[0].date_time == (1980, 1, 1, 0, 0, 0)
        assert archive.infolist()[1].date_time == (2107, 12, 31, 23, 59, 58)


BAD_MEMBERS = {
    "no sha256": dict(sha256=None),
    "upper-case sha256": dict(sha256="A" * 64),
    "absolute path": dict(path="/etc/passwd"),
    "parent folder": dict(path="ds/../../x"),
    "empty component": dict(path="ds//x"),
    "newline in path": dict(path="ds/a\nb"),
    "backslash in path": dict(path="ds/a\\b"),
    "manifest's path": dict(path=MANIFEST_PATH),
    "negative size": dict(size=-1),
    "float mtime": dict(mtime=1.5),
    "crc32 too big": dict(crc32=2 ** 32),
}


@pytest.mark.parametrize("change", BAD_MEMBERS.values(), ids=BAD_MEMBERS)
def test_members_that_cannot_be_archived_are_refused(change):
    good = Member(path="ds/a", size=1, mtime=1, sha256="0" * 64, crc32=1,
                  key="k")
    with pytest.raises(ValueError, match="archive member"):
        archive_layout.build([dataclasses.replace(good, **change)], "zip")


def test_a_path_used_twice_and_an_unknown_comptype_are_refused():
    good = Member(path="ds/a", size=1, mtime=1, sha256="0" * 64, crc32=1,
                  key="k")
    with pytest.raises(ValueError, match="used twice"):
        archive_layout.build([good, dataclasses.replace(good, key="j")], "tar")
    with pytest.raises(ValueError, match="comptype"):
        archive_layout.build([good], "7z")
