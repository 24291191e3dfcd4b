"""The byte layout of a stored (uncompressed) zip or PAX tar archive of
resources, computed before the first byte is sent. Pure: no I/O. A layout
is a sequence of segments: member data (read from storage by archive_stream)
or a record (header, data descriptor, central directory, padding) rendered
here on demand, so any byte offset can be served without reading what lies
before it, and no header bytes are kept in memory.

The bytes are a pure function of the members and the comptype (mtimes from
the members, zip DOS times in UTC, mode 0644, uid/gid 0, nothing random or
from the clock), so a Range resumed later gets the bytes of the download it
resumes. The last member is MANIFEST.sha256, built here.

Zip (APPNOTE 6.3.x): method 0, bit 11 (UTF-8 names). A known CRC-32 goes in
the local header with the sizes; an unknown one sets bit 3 and a data
descriptor of fixed size follows the data (exact length, whole archive
only). Zip64 records appear exactly where a field would overflow: a size or
an offset >= 0xFFFFFFFF, an entry count >= 0xFFFF.

Tar: pax headers (long or non-ASCII names, sizes >= 8 GiB), data padded to
512 bytes, two zero blocks at the end, no padding to tarfile's RECORDSIZE
(10240): GNU tar and Python read it without, and it would only add zeros.
"""
from __future__ import annotations

import bisect
import calendar
import hashlib
import json
import re
import struct
import sys
import tarfile
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..manifest import MANIFEST_NAME, manifest_text

COMPTYPES = ("zip", "tar")
MANIFEST_PATH = MANIFEST_KEY = MANIFEST_NAME
# Part of the ETag: bump it whenever the bytes for the same inputs change,
# so a client never resumes across two different layouts.
LAYOUT_VERSION = 1

DATA = "data"  # segment kinds: DATA comes from storage, the others from here
ZIP_LOCAL = "zip_local_header"
ZIP_DESCRIPTOR = "zip_data_descriptor"
ZIP_CENTRAL = "zip_central_header"
ZIP_END = "zip_end_records"
TAR_HEADER = "tar_header"
TAR_PADDING = "tar_padding"
TAR_END = "tar_end_blocks"

ZIP32_MAX = 0xFFFFFFFF  # a 4-byte field holding this value means "see zip64"
ZIP16_MAX = 0xFFFF
FLAG_DATA_DESCRIPTOR = 1 << 3
FLAG_UTF8 = 1 << 11
VERSION_DEFAULT = 20  # 2.0: stored files, folders
VERSION_ZIP64 = 45  # 4.5: zip64 (6.3 for UTF-8 would make unzip 6 refuse)
MADE_BY_UNIX = 3 << 8  # so readers apply the mode in external_attr
EXTERNAL_ATTR = 0o100644 << 16
FILE_MODE = 0o644
TAR_BLOCK = 512
DOS_EPOCH = calendar.timegm((1980, 1, 1, 0, 0, 0))
DOS_LAST = calendar.timegm((2107, 12, 31, 23, 59, 58))


@dataclass(frozen=True)
class Member:
    path: str  # path inside the archive, "{dataset_name}/{resource_name}"
    size: int
    mtime: int  # unix seconds
    sha256: str | None
    crc32: int | None
    key: str  # opaque id for the opener, e.g. the resource id


class Segment(NamedTuple):
    start: int  # offset in the archive
    length: int
    kind: str
    member: int  # index into Layout.members, -1 for archive-level records


@dataclass(frozen=True, eq=False)
class Layout:
    comptype: str
    members: tuple[Member, ...]  # those given, then the manifest
    manifest: bytes  # the data of the last member
    segments: tuple[Segment, ...]
    length: int
    ranges_supported: bool
    etag: str  # unquoted
    header_offsets: tuple[int, ...]  # zip: local header offset per member
    directory: tuple[int, int]  # zip: central directory offset and size
    starts: tuple[int, ...]  # segments' start offsets, for bisect

    @property
    def manifest_index(self) -> int:  # the manifest is the last member
        return len(self.members) - 1

    def segment_index(self, offset: int) -> int:
        """Index of the segment that holds byte `offset`."""
        if not 0 <= offset < self.length:
            raise ValueError(f"offset {offset} outside 0..{self.length - 1}")
        return bisect.bisect_right(self.starts, offset) - 1

    def literal(self, segment: Segment,
                computed_crc32: Mapping[int, int]) -> bytes:
        """The bytes of a non-DATA segment; `computed_crc32`: CRC-32s of
        members streamed whole, for those given without one."""
        member = self.members[segment.member] if segment.member >= 0 else None
        if segment.kind == TAR_HEADER:
            return _tar_header(member)
        if segment.kind in (TAR_PADDING, TAR_END):
            return bytes(segment.length)
        if segment.kind == ZIP_LOCAL:
            return _zip_local_header(member)
        if segment.kind == ZIP_END:
            return _zip_end_records(len(self.members), *self.directory)
        crc = computed_crc32[segment.member] if member.crc32 is None \
            else member.crc32
        if segment.kind == ZIP_DESCRIPTOR:
            return _zip_data_descriptor(member, crc)
        if segment.kind == ZIP_CENTRAL:
            return _zip_central_header(
                member, crc, self.header_offsets[segment.member])
        raise ValueError(f"segment kind {segment.kind!r} has no literal")


def build(members: Sequence[Member], comptype: str) -> Layout:
    """The layout of an archive of `members` plus MANIFEST.sha256. Raises
    ValueError for an unknown comptype or a member without a valid sha256,
    size, mtime or path (unique, and fit for a sha256sum line)."""
    if comptype not in COMPTYPES:
        raise ValueError(f"comptype must be zip or tar, not {comptype!r}")
    members = tuple(members)
    _check_members(members)
    manifest = manifest_text((m.sha256, m.path) for m in members).encode()
    manifest_member = Member(
        path=MANIFEST_PATH, size=len(manifest),
        mtime=max((m.mtime for m in members), default=0),
        sha256=hashlib.sha256(manifest).hexdigest(),
        crc32=zlib.crc32(manifest), key=MANIFEST_KEY)
    members += (manifest_member,)
    segments, header_offsets, directory = (
        _zip_segments if comptype == "zip" else _tar_segments)(members)
    # a zip range needs every CRC-32 before the data it follows
    ranges_supported = comptype == "tar" or all(
        m.crc32 is not None for m in members)
    last = segments[-1]
    return Layout(comptype=comptype, members=members, manifest=manifest,
                  segments=segments, length=last.start + last.length,
                  ranges_supported=ranges_supported,
                  etag=_etag(comptype, members), header_offsets=header_offsets,
                  directory=directory, starts=tuple(s.start for s in segments))


def _check_members(members: tuple[Member, ...]) -> None:
    seen = {MANIFEST_PATH}
    for m in members:
        where = f"archive member {m.path!r}"
        if not isinstance(m.path, str) or m.path.startswith("/") \
                or any(c in m.path for c in "\\\n\r\0") \
                or any(p in ("", ".", "..") for p in m.path.split("/")):
            raise ValueError(f"{where}: not a relative path for the manifest")
        if m.path in seen:
            raise ValueError(f"{where}: path used twice or the manifest's")
        seen.add(m.path)
        if not re.fullmatch("[0-9a-f]{64}", str(m.sha256)):
            raise ValueError(f"{where}: no sha256 (64 lower-case hex digits)")
        if not (isinstance(m.size, int) and isinstance(m.mtime, int)
                and m.size >= 0 and m.mtime >= 0):
            raise ValueError(f"{where}: size and mtime must be integers >= 0")
        if m.crc32 is not None and not 0 <= m.crc32 <= ZIP32_MAX:
            raise ValueError(f"{where}: crc32 must be None or 32-bit unsigned")


def _etag(comptype: str, members: tuple[Member, ...]) -> str:
    # everything the bytes depend on: mtimes and CRCs are in the headers,
    # and tar headers come from this Python's tarfile
    tarfile_of = sys.version_info[:2] if comptype == "tar" else None
    canonical = json.dumps(
        [LAYOUT_VERSION, comptype, tarfile_of,
         [[m.key, m.path, m.size, m.sha256, m.mtime, m.crc32]
          for m in members]],
        ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _append(segments: list[Segment], length: int, kind: str, member: int):
    segments.append(Segment(_end(segments), length, kind, member))


def _end(segments: list[Segment]) -> int:
    return segments[-1].start + segments[-1].length if segments else 0


# Record lengths are taken from the rendered records themselves (the CRC
# does not change a length), so the layout cannot disagree with the bytes.
def _zip_segments(members):
    segments, header_offsets = [], []
    for index, m in enumerate(members):
        header_offsets.append(_end(segments))
        _append(segments, len(_zip_local_header(m)), ZIP_LOCAL, index)
        _append(segments, m.size, DATA, index)
        if m.crc32 is None:
            _append(segments, len(_zip_data_descriptor(m, 0)),
                    ZIP_DESCRIPTOR, index)
    directory_offset = _end(segments)
    for index, m in enumerate(members):
        central = _zip_central_header(m, 0, header_offsets[index])
        _append(segments, len(central), ZIP_CENTRAL, index)
    directory = (directory_offset, _end(segments) - directory_offset)
    _append(segments, len(_zip_end_records(len(members), *directory)),
            ZIP_END, -1)
    return tuple(segments), tuple(header_offsets), directory


def _tar_segments(members):
    segments = []
    for index, m in enumerate(members):
        _append(segments, len(_tar_header(m)), TAR_HEADER, index)
        _append(segments, m.size, DATA, index)
        if m.size % TAR_BLOCK:
            _append(segments, -m.size % TAR_BLOCK, TAR_PADDING, index)
    _append(segments, 2 * TAR_BLOCK, TAR_END, -1)
    return tuple(segments), (), (0, 0)  # no header offsets or directory


def _tar_header(m: Member) -> bytes:
    info = tarfile.TarInfo(m.path)
    info.size, info.mtime, info.mode = m.size, m.mtime, FILE_MODE
    info.type, info.uid, info.gid = tarfile.REGTYPE, 0, 0
    info.uname = info.gname = ""
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="strict")


def _dos_date_time(mtime: int) -> tuple[int, int]:
    # DOS times have no zone; UTC keeps the bytes independent of the server
    t = time.gmtime(min(max(mtime, DOS_EPOCH), DOS_LAST))
    return ((t.tm_year - 1980) << 9 | t.tm_mon << 5 | t.tm_mday,
            t.tm_hour << 11 | t.tm_min << 5 | t.tm_sec // 2)


def _zip_local_header(m: Member) -> bytes:
    name = m.path.encode()
    flags = FLAG_UTF8
    crc, size = m.crc32, m.size
    if crc is None:  # APPNOTE 4.4.4: zeros here, values in the descriptor
        flags |= FLAG_DATA_DESCRIPTOR
        crc, size = 0, 0
    extra = b""
    if m.size >= ZIP32_MAX:  # the extra must hold both sizes (4.5.3)
        extra = struct.pack("<HHQQ", 1, 16, size, size)
        size = ZIP32_MAX
    date, clock = _dos_date_time(m.mtime)
    version = VERSION_ZIP64 if extra else VERSION_DEFAULT
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, version, flags, 0, clock,
                       date, crc, size, size, len(name), len(extra)) \
        + name + extra


def _zip_data_descriptor(m: Member, crc: int) -> bytes:
    # 8-byte sizes exactly when the local header has a zip64 extra
    layout = "<IIQQ" if m.size >= ZIP32_MAX else "<IIII"
    return struct.pack(layout, 0x08074B50, crc, m.size, m.size)


def _zip_central_header(m: Member, crc: int, header_offset: int) -> bytes:
    name = m.path.encode()
    # zip64 holds only the fields whose 4-byte slot overflows, in this order
    fields = [m.size, m.size] if m.size >= ZIP32_MAX else []
    fields += [header_offset] if header_offset >= ZIP32_MAX else []
    extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) \
        if fields else b""
    version = VERSION_ZIP64 if fields else VERSION_DEFAULT
    flags = FLAG_UTF8 | (FLAG_DATA_DESCRIPTOR if m.crc32 is None else 0)
    date, clock = _dos_date_time(m.mtime)
    return struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, MADE_BY_UNIX | version, version,
        flags, 0, clock, date, crc, min(m.size, ZIP32_MAX),
        min(m.size, ZIP32_MAX), len(name), len(extra), 0, 0, 0, EXTERNAL_ATTR,
        min(header_offset, ZIP32_MAX)) + name + extra


def _zip_end_records(count: int, offset: int, size: int) -> bytes:
    records = b""
    if count >= ZIP16_MAX or offset >= ZIP32_MAX or size >= ZIP32_MAX:
        records = struct.pack(  # zip64 end record, then its locator
            "<IQHHIIQQQQ", 0x06064B50, 44, MADE_BY_UNIX | VERSION_ZIP64,
            VERSION_ZIP64, 0, 0, count, count, size, offset) + struct.pack(
            "<IIQI", 0x07064B50, 0, offset + size, 1)
    short_count = min(count, ZIP16_MAX)
    return records + struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, short_count, short_count,
        min(size, ZIP32_MAX), min(offset, ZIP32_MAX), 0)
