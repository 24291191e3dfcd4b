"""Streams a byte range of an archive laid out by archive_layout, reading
member data through an injected opener and verifying it as it passes.

Verification: every member streamed from its first byte to its last is
hashed (sha256; CRC-32 too for zip) while it passes. The last chunk of each
member is held back until the member is complete and matches its recorded
sha256, CRC-32 and size. On a mismatch `on_integrity_error` is called and
the iterator ends early, before that chunk: the response falls short of its
Content-Length, so the client sees a broken transfer and never a complete
archive with wrong bytes. A member cut by the range (the range starts or
ends inside it) cannot be hashed by the server; its byte count is still
checked, and the client has MANIFEST.sha256 for the rest.

Memory: at most one chunk per open member plus one rendered header.
"""
from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Iterator

from zlib_ng import zlib_ng  # SIMD CRC-32, a tenth of zlib's CPU

from .archive_layout import DATA, Layout, Member
# the one Range rule of every download route, re-exported for the archive's
# callers
from .byte_ranges import (  # noqa: F401
    MalformedRange, MultipleRanges, RangeError, UnsatisfiableRange,
    parse_range)

# Pieces smaller than this (headers, small files) are gathered into one
# chunk before they are yielded, so many small files are not sent in tiny
# writes. Only bytes already verified (or not to be verified) go in.
COALESCE_BYTES = 64 * 1024

Opener = Callable[[Member, int], Iterable[bytes]]
IntegrityHandler = Callable[[Member, str], None]


class _Mismatch(Exception):
    """A member's bytes differ from what was recorded (message: one line)."""


def stream(layout: Layout, start: int, end: int, open_member: Opener,
           on_integrity_error: IntegrityHandler) -> Iterator[bytes]:
    """Yield bytes `start`..`end` (inclusive) of the archive.

    `open_member(member, offset)` gives the member's data from `offset` on
    as bytes chunks (say 1-8 MiB); it is never called for a member that
    ends before `start`, and its iterator is closed once no more is needed.
    `on_integrity_error(member, one_line)` is called when a member does not
    match its record; the iterator then ends short of `end` (the handler
    may also raise, e.g. to abort the connection).
    Raises ValueError for a range outside the archive, or for a partial
    range of a layout without range support (a zip with unknown CRCs).
    """
    if not 0 <= start <= end < layout.length:
        raise ValueError(f"range {start}-{end} outside 0-{layout.length - 1}")
    if not layout.ranges_supported and (start, end) != (0, layout.length - 1):
        raise ValueError("a member's CRC-32 is unknown, so only the whole "
                         "archive can be streamed")
    return _stream(layout, start, end, open_member, on_integrity_error)


def _stream(layout, start, end, open_member, on_integrity_error):
    computed_crc32: dict[int, int] = {}
    gathered = bytearray()
    index = layout.segment_index(start)
    while index < len(layout.segments):
        segment = layout.segments[index]
        index += 1
        if segment.start > end:
            break
        # the part of this segment inside the range, relative to its start
        lo = max(start - segment.start, 0)
        hi = min(end + 1 - segment.start, segment.length)
        if segment.kind == DATA:
            pieces = _member_data(layout, segment.member, lo, hi,
                                  open_member, computed_crc32)
        else:
            pieces = _literal(layout, segment, lo, hi, computed_crc32)
        try:
            with contextlib.closing(pieces) as piece_iterator:
                for piece in piece_iterator:
                    if len(gathered) + len(piece) <= COALESCE_BYTES:
                        gathered += piece
                        continue
                    if gathered:
                        yield bytes(gathered)
                        gathered.clear()
                    if len(piece) < COALESCE_BYTES:
                        gathered += piece
                    else:
                        yield piece
        except _Mismatch as mismatch:
            # told first, so the operator hears of it even if the client
            # is gone; may raise to abort the response
            on_integrity_error(layout.members[segment.member], str(mismatch))
            # what was gathered never holds the member's last chunk; sent,
            # it puts the cut after the member's header, so a tar reader
            # too finds the member's data missing (zip lacks its directory)
            if gathered:
                yield bytes(gathered)
            return
    if gathered:
        yield bytes(gathered)


def _literal(layout, segment, lo, hi, computed_crc32):
    yield layout.literal(segment, computed_crc32)[lo:hi]


def _member_data(layout: Layout, index: int, lo: int, hi: int,
                 open_member: Opener, computed_crc32: dict[int, int]):
    """Bytes lo..hi-1 of member `index`, its last chunk held back until the
    member is known to be whole and right. Raises _Mismatch."""
    member = layout.members[index]
    whole = lo == 0 and hi == member.size
    to_the_end = hi == member.size
    with_crc = whole and layout.comptype == "zip"
    opened = (layout.manifest[lo:],) if index == layout.manifest_index \
        else open_member(member, lo)
    chunks = iter(opened)
    # digests the opener computed while reading, else computed here
    hashed_by_opener = getattr(opened, "digests", None) if whole else None
    sha256 = hashlib.sha256() if whole and not hashed_by_opener else None
    crc = 0
    position = lo
    held = b""
    try:
        for chunk in chunks:
            if position + len(chunk) > hi:
                if to_the_end:
                    raise _Mismatch(
                        f"{_name(member)}: more than the recorded "
                        f"{member.size} bytes")
                chunk = chunk[:hi - position]  # the range ends in this member
            if not chunk:
                continue
            position += len(chunk)
            if sha256 is not None:
                sha256.update(chunk)
                if with_crc:
                    crc = zlib_ng.crc32(chunk, crc)
            if held:
                yield held
            held = chunk
            if position == hi and not to_the_end:
                break
        if position < hi:
            raise _Mismatch(f"{_name(member)}: data ends at byte {position} "
                            f"of the recorded {member.size}")
        got = sha256.hexdigest() if sha256 is not None else None
        if hashed_by_opener:
            got, opener_crc = hashed_by_opener()
            crc = opener_crc if opener_crc is not None else crc
        if got is not None and got != member.sha256:
            raise _Mismatch(f"{_name(member)}: sha256 {got} "
                            f"is not the recorded {member.sha256}")
        if with_crc:
            if member.crc32 is not None and crc != member.crc32:
                raise _Mismatch(f"{_name(member)}: CRC-32 {crc:08x} is not "
                                f"the recorded {member.crc32:08x}")
            computed_crc32[index] = crc
        if held:
            yield held
    finally:
        close = getattr(opened, "close", None) or getattr(chunks, "close",
                                                          None)
        if close is not None:
            close()


class HashedChunks:
    """A member's chunks, hashed in whichever thread reads them. An opener
    may return one (or an iterable with its `digests`), so that hashing
    runs beside the sending; the streamer then uses these digests."""

    def __init__(self, chunks: Iterable[bytes], crc: bool) -> None:
        self._chunks = iter(chunks)
        self._sha256 = hashlib.sha256()
        self._crc = 0 if crc else None

    def __iter__(self) -> "HashedChunks":
        return self

    def __next__(self) -> bytes:
        chunk = next(self._chunks)
        self._sha256.update(chunk)
        if self._crc is not None:
            self._crc = zlib_ng.crc32(chunk, self._crc)
        return chunk

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()

    def digests(self) -> tuple[str, int | None]:
        """sha256 (hex) and CRC-32 of every chunk read so far."""
        return self._sha256.hexdigest(), self._crc


def _name(member: Member) -> str:
    return f"archive member {member.path!r} (key {member.key})"
