"""Sizes past the 32-bit zip fields and tar's 8 GiB ustar size field, from
sparse files (no disk used), streamed only as ranges: headers, the first
and last MiB of the big member, and the small members after it.

The big member's sha256 is a stand-in: no range below holds it whole, so
the streamer never checks it (hashing 4.5-8.5 GiB would take the time the
ranges are there to save). Its CRC-32 is recorded so the zip is rangeable.
"""
from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import struct
import subprocess
import tarfile
import zipfile

from ckanext.dcor_depot.downloads import archive_layout, archive_stream
from ckanext.dcor_depot.downloads.archive_layout import DATA, MANIFEST_PATH

from .archive_files import (GIB, LONG_NAME, MIB, FileStore, make_members,
                            stream_bytes)

STAND_IN_SHA256 = "5" * 64
STAND_IN_CRC32 = 0x12345678


def sparse_member(store: FileStore, key: str, path: str, size: int):
    """A file of `size` bytes: a random MiB at each end, a hole between."""
    rng = random.Random(size)
    head, tail = rng.randbytes(MIB), rng.randbytes(MIB)
    with open(store.path(key), "wb") as handle:
        handle.write(head)
        handle.truncate(size)
        handle.seek(size - MIB)
        handle.write(tail)
    assert os.stat(store.path(key)).st_blocks * 512 < 16 * MIB  # sparse
    member = archive_layout.Member(
        path=path, size=size, mtime=1_700_000_000, sha256=STAND_IN_SHA256,
        crc32=STAND_IN_CRC32, key=key)
    return member, head, tail


def write_by_ranges(layout, store, big_key, head, tail, target):
    """Write the archive to a sparse `target`, fetching every segment by a
    range of its own except the middle of the big member (a hole in the
    source, a hole in the target). The result equals the whole archive."""
    with open(target, "wb") as out:
        out.truncate(layout.length)
        for segment in layout.segments:
            if segment.length == 0:
                continue
            last = segment.start + segment.length - 1
            member = layout.members[segment.member]
            if segment.kind == DATA and member.key == big_key:
                pieces = [(segment.start, segment.start + MIB - 1, head),
                          (last - MIB + 1, last, tail)]
            else:
                pieces = [(segment.start, last, None)]
            for start, end, expected in pieces:
                got = stream_bytes(layout, store, start, end)
                assert len(got) == end - start + 1
                if expected is not None:
                    assert got == expected
                out.seek(start)
                out.write(got)


def test_zip64_for_a_4_5_gib_member_and_offsets_past_4_gib(tmp_path):
    small_members, store = make_members(tmp_path / "store", {
        "first dataset/before.txt": 1000,
        "second dataset/after the big one.txt": 5000})
    size = 4 * GIB + GIB // 2
    big, head, tail = sparse_member(store, "big", "first dataset/big ü.rtdc",
                                    size)
    members = [small_members[0], big, small_members[1]]
    layout = archive_layout.build(members, "zip")
    assert layout.ranges_supported and layout.length > size
    target = tmp_path / "skeleton.zip"
    write_by_ranges(layout, store, "big", head, tail, target)
    opened = [(key, offset) for key, offset in store.opened if key == "big"]
    assert opened == [("big", 0), ("big", size - MIB)]
    with zipfile.ZipFile(target) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == [m.path for m in members] + [
            MANIFEST_PATH]
        assert infos[1].file_size == infos[1].compress_size == size
        assert infos[1].CRC == STAND_IN_CRC32
        # the member after the big one starts past 4 GiB: zip64 offset
        assert infos[2].header_offset > 0xFFFFFFFF
        assert archive.read(infos[2]) == store.path(
            members[2].key).read_bytes()  # CRC checked by zipfile
        assert archive.read(MANIFEST_PATH) == layout.manifest
        with archive.open(infos[1]) as big_file:
            assert big_file.read(MIB) == head
    with open(target, "rb") as handle:
        handle.seek(-22, os.SEEK_END)
        end_record = struct.unpack("<IHHHHIIH", handle.read(22))
        handle.seek(-42, os.SEEK_END)
        locator = struct.unpack("<IIQI", handle.read(20))
    assert end_record[0] == 0x06054B50 and end_record[6] == 0xFFFFFFFF
    assert locator[0] == 0x07064B50
    if shutil.which("unzip"):  # Info-ZIP reads the same sizes and offsets
        listing = subprocess.run(["unzip", "-l", str(target)],
                                 capture_output=True, text=True)
        assert listing.returncode == 0 and str(size) in listing.stdout


def test_zip64_local_header_and_descriptor_for_an_unknown_crc(tmp_path):
    size = 5 * GIB
    member = archive_layout.Member(
        path="ds/huge", size=size, mtime=1, sha256=STAND_IN_SHA256,
        crc32=None, key="k")
    layout = archive_layout.build([member], "zip")
    local, data, descriptor = layout.segments[:3]
    header = layout.literal(local, {})
    # sizes point to the zip64 extra; its values wait for the descriptor
    assert struct.unpack("<II", header[18:26]) == (0xFFFFFFFF, 0xFFFFFFFF)
    assert header[-20:] == struct.pack("<HHQQ", 1, 16, 0, 0)
    assert descriptor.length == 24
    assert layout.literal(descriptor, {0: 7}) == struct.pack(
        "<IIQQ", 0x08074B50, 7, size, size)


def test_tar_pax_size_for_an_8_5_gib_member(tmp_path):
    small_members, store = make_members(tmp_path / "store", {
        "second dataset/after the big one.txt": 5000})
    size = 8 * GIB + GIB // 2
    path = "first dataset/" + LONG_NAME
    big, head, tail = sparse_member(store, "big", path, size)
    members = [big, small_members[0]]
    layout = archive_layout.build(members, "tar")
    target = tmp_path / "skeleton.tar"
    write_by_ranges(layout, store, "big", head, tail, target)
    with tarfile.open(target, "r:") as archive:
        infos = archive.getmembers()
        assert [i.name for i in infos] == [path, members[1].path,
                                           MANIFEST_PATH]
        assert infos[0].size == size
        assert infos[0].pax_headers["size"] == str(size)
        assert infos[0].pax_headers["path"] == path
        assert archive.extractfile(infos[0]).read(MIB) == head
        assert archive.extractfile(infos[1]).read() == store.path(
            members[1].key).read_bytes()
        assert archive.extractfile(infos[2]).read() == layout.manifest
    listing = subprocess.run(["tar", "-tvf", str(target)],  # GNU tar
                             capture_output=True, text=True)
    assert listing.returncode == 0 and listing.stderr == ""
    assert str(size) in listing.stdout and path in listing.stdout


def test_zip64_end_records_for_more_than_65535_members():
    empty_sha256 = hashlib.sha256(b"").hexdigest()
    count = 70_000
    members = [archive_layout.Member(
        path=f"dataset/{i:05d}", size=0, mtime=1_700_000_000,
        sha256=empty_sha256, crc32=0, key=str(i)) for i in range(count)]
    layout = archive_layout.build(members, "zip")

    def open_empty(member, offset):  # empty members: no bytes to read
        return iter(())

    data = b"".join(archive_stream.stream(
        layout, 0, layout.length - 1, open_empty, None))
    assert len(data) == layout.length
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        assert len(infos) == count + 1
        assert infos[-1].filename == MANIFEST_PATH
        assert archive.read(infos[-1]) == layout.manifest
    end_record = struct.unpack("<IHHHHIIH", data[-22:])
    assert end_record[3] == end_record[4] == 0xFFFF
    zip64_record = struct.unpack("<IQHHIIQQQQ", data[-98:-42])
    assert zip64_record[0] == 0x06064B50
    assert zip64_record[6] == zip64_record[7] == count + 1
    # and the small archive below the limit has no zip64 records at all
    few = archive_layout.build(members[:100], "zip")
    end = few.literal(few.segments[-1], {})
    assert len(end) == 22 and struct.unpack("<H", end[10:12])[0] == 101
