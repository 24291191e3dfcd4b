"""Ranges: any byte range equals the same slice of the whole archive, and
no member that ends before the range start is read from storage."""
from __future__ import annotations

import dataclasses
import random

import pytest

from ckanext.dcor_depot.downloads import archive_layout, archive_stream
from ckanext.dcor_depot.downloads.archive_stream import (
    MalformedRange, MultipleRanges, UnsatisfiableRange, parse_range)

from .archive_files import data_span, make_members, stream_bytes


def interesting_offsets(layout) -> list[int]:
    """Every segment boundary and its neighbours: where off-by-ones live."""
    offsets = set()
    for segment in layout.segments:
        for offset in (segment.start - 1, segment.start, segment.start + 1,
                       segment.start + segment.length - 1):
            if 0 <= offset < layout.length:
                offsets.add(offset)
    return sorted(offsets)


@pytest.mark.parametrize("comptype", ["zip", "tar"])
def test_random_ranges_equal_slices_and_open_nothing_before_them(
        tmp_path, comptype):
    members, store = make_members(tmp_path / "store")
    layout = archive_layout.build(members, comptype)
    whole = stream_bytes(layout, store)
    spans = {m.key: data_span(layout, m.key) for m in members}
    sizes = {m.key: m.size for m in members}
    edges = interesting_offsets(layout)
    rng = random.Random(20240611)
    for round_ in range(400):
        if round_ % 2:
            start = rng.choice(edges)
            end = rng.choice([e for e in edges if e >= start][:40])
        else:
            start = rng.randrange(layout.length)
            reach = rng.choice([1, 600, 10**6])
            end = rng.randrange(start, min(layout.length, start + reach))
        store.opened.clear()
        got = stream_bytes(layout, store, start, end)
        assert got == whole[start:end + 1], (start, end)
        for key, offset in store.opened:
            data_start, data_end = spans[key]
            # nothing that ends before the range start was opened, and
            # an opened member is read from where the range needs it
            assert data_end > start or (sizes[key] == 0
                                        and data_start > start), (key, start)
            assert data_start <= end
            assert offset == max(start - data_start, 0)
        opened_keys = [key for key, _ in store.opened]
        assert len(opened_keys) == len(set(opened_keys))  # each at most once


@pytest.mark.parametrize("comptype", ["zip", "tar"])
def test_a_range_inside_one_member_opens_only_that_member(tmp_path, comptype):
    members, store = make_members(tmp_path / "store")
    layout = archive_layout.build(members, comptype)
    big = members[-1]
    data_start, data_end = data_span(layout, big.key)
    got = stream_bytes(layout, store, data_start + 1000, data_end - 1000)
    assert got == store.path(big.key).read_bytes()[1000:-999]
    assert store.opened == [(big.key, 1000)]
    assert store.closed == [big.key]  # the file is not left open


@pytest.mark.parametrize("comptype", ["zip", "tar"])
def test_ranges_from_headers_resume_a_broken_download(tmp_path, comptype):
    members, store = make_members(tmp_path / "store")
    layout = archive_layout.build(members, comptype)
    whole = stream_bytes(layout, store)
    broken_at = len(whole) * 2 // 3
    start, end = parse_range(f"bytes={broken_at}-", layout.length)
    assert whole[:broken_at] + stream_bytes(layout, store, start, end) == whole
    start, end = parse_range("bytes=-100", layout.length)
    assert stream_bytes(layout, store, start, end) == whole[-100:]


def test_zip_with_an_unknown_crc_refuses_partial_ranges(tmp_path):
    members, store = make_members(tmp_path / "store")
    members[3] = dataclasses.replace(members[3], crc32=None)
    layout = archive_layout.build(members, "zip")
    assert not layout.ranges_supported
    with pytest.raises(ValueError, match="CRC-32 is unknown"):
        archive_stream.stream(layout, 1, layout.length - 1, store.open_member,
                              None)
    assert store.opened == []
    # tar needs no CRC: the same members are rangeable as tar
    tar_layout = archive_layout.build(members, "tar")
    assert tar_layout.ranges_supported
    whole = stream_bytes(tar_layout, store)
    assert stream_bytes(tar_layout, store, 700, 90_000) == whole[700:90_001]


def test_ranges_outside_the_archive_are_refused(tmp_path):
    members, store = make_members(tmp_path / "store")
    layout = archive_layout.build(members, "tar")
    for start, end in [(-1, 5), (5, 4), (0, layout.length)]:
        with pytest.raises(ValueError):
            archive_stream.stream(layout, start, end, store.open_member, None)


@pytest.mark.parametrize("header, expected", [
    (None, None),
    ("", None),
    ("bytes=0-99", (0, 99)),
    ("bytes=100-", (100, 999)),
    ("bytes=-10", (990, 999)),
    ("bytes=-5000", (0, 999)),  # a suffix longer than the file: all of it
    ("bytes=0-99999", (0, 999)),  # an end past the file is cut
    ("bytes=999-999", (999, 999)),
    ("Bytes = 5-6 ", (5, 6)),
    ("items=0-5", None),  # an unknown unit is ignored (RFC 9110 14.2)
])
def test_parse_range_answers(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header, error", [
    ("bytes=0-1,5-6", MultipleRanges),
    ("bytes=0-1, 5-", MultipleRanges),
    ("bytes=abc", MalformedRange),
    ("bytes=5-2", MalformedRange),
    ("bytes=-", MalformedRange),
    ("bytes=+1-2", MalformedRange),
    ("bytes=1_0-20", MalformedRange),
    ("bytes=١-٢", MalformedRange),  # Arabic-Indic digits are not ASCII
    ("bytes", MalformedRange),
    ("bytes=1000-", UnsatisfiableRange),
    ("bytes=5000-6000", UnsatisfiableRange),
    ("bytes=-0", UnsatisfiableRange),
])
def test_parse_range_refusals(header, error):
    with pytest.raises(error):
        parse_range(header, 1000)
    assert issubclass(error, archive_stream.RangeError)
