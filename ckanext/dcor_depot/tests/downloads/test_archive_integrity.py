"""Verified as it streams: a member whose bytes differ from its recorded
sha256 (or size, or CRC-32) never arrives complete, so the client sees a
short transfer and never a valid archive with wrong bytes."""
from __future__ import annotations

import dataclasses
import io
import subprocess
import zipfile

import pytest

from ckanext.dcor_depot.downloads import archive_layout, archive_stream

from .archive_files import CHUNK, data_span, make_members, stream_bytes

BIG = -1  # index of "zz-last dataset/big.rtdc" (1_000_003 bytes) in TREE


class Recorder:
    def __init__(self):
        self.calls: list[tuple[str, str]] = []

    def __call__(self, member, message):
        self.calls.append((member.key, message))


def tamper(store, member, *, flip_at=None, cut=0, add=b""):
    path = store.path(member.key)
    data = bytearray(path.read_bytes())
    if flip_at is not None:
        data[flip_at] ^= 0xFF
    path.write_bytes(bytes(data[:len(data) - cut]) + add)


def assert_cut_before_last_chunk(layout, store, member, got, good, errors,
                                 words):
    """The stream ended inside the member, before its last chunk; what was
    sent is the archive up to there; one line names the member."""
    data_start, _ = data_span(layout, member.key)
    stored = store.path(member.key).read_bytes()
    last_chunk_start = max(len(stored) - 1, 0) // CHUNK * CHUNK
    assert data_start <= len(got) <= data_start + min(last_chunk_start,
                                                      member.size)
    assert got[:data_start] == good[:data_start]
    assert got[data_start:] == stored[:len(got) - data_start]
    assert len(errors.calls) == 1
    key, message = errors.calls[0]
    assert key == member.key and "\n" not in message
    assert member.path in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("comptype", ["zip", "tar"])
@pytest.mark.parametrize("damage, words", [
    (dict(flip_at=1_000_000), ["sha256"]),  # same size, last chunk differs
    (dict(flip_at=10), ["sha256"]),  # same size, first chunk differs
    (dict(cut=1000), ["ends at byte 999003", "1000003"]),
    (dict(cut=1_000_003), ["ends at byte 0"]),  # empty object
    (dict(add=b"tail"), ["more than", "1000003"]),
])
def test_a_damaged_member_never_arrives_complete(tmp_path, comptype, damage,
                                                 words):
    members, store = make_members(tmp_path / "store")
    layout = archive_layout.build(members, comptype)
    good = stream_bytes(layout, store)
    tamper(store, members[BIG], **damage)
    errors = Recorder()
    got = stream_bytes(layout, store, on_integrity_error=errors)
    assert_cut_before_last_chunk(layout, store, members[BIG], got, good,
                                 errors, words)
    # what the client holds is no archive: readers refuse it
    (tmp_path / f"cut.{comptype}").write_bytes(got)
    if comptype == "zip":
        with pytest.raises(zipfile.BadZipFile):
            zipfile.ZipFile(io.BytesIO(got))
    else:
        listed = subprocess.run(["tar", "-tf", str(tmp_path / "cut.tar")],
                                capture_output=True, text=True)
        assert listed.returncode != 0


@pytest.mark.parametrize("comptype", ["zip", "tar"])
def test_a_damaged_small_member_sends_none_of_its_bytes(tmp_path, comptype):
    members, store = make_members(tmp_path / "store")
    small = members[2]  # "calibration-beads/one byte"
    layout = archive_layout.build(members, comptype)
    tamper(store, small, flip_at=0)
    errors = Recorder()
    got = stream_bytes(layout, store, on_integrity_error=errors)
    assert len(got) == data_span(layout, small.key)[0]  # its header only
    assert [key for key, _ in errors.calls] == [small.key]


@pytest.mark.parametrize("comptype", ["zip", "tar"])
def test_a_range_that_holds_a_damaged_member_whole_falls_short(
        tmp_path, comptype):
    members, store = make_members(tmp_path / "store")
    layout = archive_layout.build(members, comptype)
    victim = members[3]  # 65536 bytes, one chunk
    data_start, data_end = data_span(layout, victim.key)
    tamper(store, victim, flip_at=65_535)
    errors = Recorder()
    got = stream_bytes(layout, store, data_start - 10, data_end + 10, errors)
    assert len(got) == 10 and len(errors.calls) == 1


@pytest.mark.parametrize("comptype", ["zip", "tar"])
def test_a_range_starting_inside_a_member_still_checks_its_size(
        tmp_path, comptype):
    # the server cannot hash a member it sends only part of (the client's
    # manifest check covers that); a wrong length is still caught
    members, store = make_members(tmp_path / "store")
    layout = archive_layout.build(members, comptype)
    data_start, data_end = data_span(layout, members[BIG].key)
    tamper(store, members[BIG], cut=1)
    errors = Recorder()
    got = stream_bytes(layout, store, data_start + 5, layout.length - 1,
                       errors)
    assert len(got) < layout.length - data_start - 5
    assert "ends at byte" in errors.calls[0][1]


def test_zip_stops_on_a_wrong_recorded_crc_and_tar_does_not_use_it(tmp_path):
    members, store = make_members(tmp_path / "store")
    members[BIG] = dataclasses.replace(
        members[BIG], crc32=members[BIG].crc32 ^ 1)
    errors = Recorder()
    layout = archive_layout.build(members, "zip")
    got = stream_bytes(layout, store, on_integrity_error=errors)
    assert len(got) < layout.length
    assert "CRC-32" in errors.calls[0][1]
    tar_layout = archive_layout.build(members, "tar")
    assert len(stream_bytes(tar_layout, store)) == tar_layout.length


def test_zip_with_unknown_crcs_streams_whole_with_data_descriptors(tmp_path):
    members, store = make_members(tmp_path / "store", crc32=False)
    layout = archive_layout.build(members, "zip")
    assert not layout.ranges_supported
    data = stream_bytes(layout, store)
    assert len(data) == layout.length
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None  # CRCs computed while streaming
        for member, info in zip(members, archive.infolist()):
            assert info.flag_bits & 0x8  # data descriptor
            assert archive.read(info) == store.path(member.key).read_bytes()
        manifest = archive.infolist()[-1]
        assert not manifest.flag_bits & 0x8  # its CRC is known up front
    tamper(store, members[BIG], flip_at=999_999)
    errors = Recorder()
    got = stream_bytes(layout, store, on_integrity_error=errors)
    assert len(got) < layout.length and len(errors.calls) == 1


def test_an_integrity_handler_may_raise_to_abort_the_response(tmp_path):
    members, store = make_members(tmp_path / "store")
    layout = archive_layout.build(members, "tar")
    tamper(store, members[0], flip_at=5)

    def abort(member, message):
        raise ConnectionAbortedError(message)

    with pytest.raises(ConnectionAbortedError, match="sha256"):
        stream_bytes(layout, store, on_integrity_error=abort)
    assert store.closed == [members[0].key]


def test_a_client_that_goes_away_leaves_no_file_open(tmp_path):
    members, store = make_members(tmp_path / "store")
    layout = archive_layout.build(members, "zip")
    chunks = archive_stream.stream(layout, 0, layout.length - 1,
                                   store.open_member, None)
    sent = 0
    while sent < 200_000:  # inside the first member (300_000 bytes)
        sent += len(next(chunks))
    chunks.close()
    assert store.opened == [(members[0].key, 0)]
    assert store.closed == [members[0].key]
