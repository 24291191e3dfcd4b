"""The one Range rule of every download route (a resource's depot stream,
the archives): which bytes a `Range` / `If-Range` pair asks for, and the
answer to a range that selects none. Pure: no request, no I/O."""
from __future__ import annotations

import re
from typing import NamedTuple

class RangeError(ValueError):
    """A Range header that cannot be answered with 206."""


class MalformedRange(RangeError):
    """Not a valid single byte range (answer 400)."""


class MultipleRanges(MalformedRange):
    """More than one range; multipart answers are not offered (answer 400)."""


class UnsatisfiableRange(RangeError):
    """A valid range that selects no byte of the archive (answer 416)."""


_BYTE_RANGE = re.compile(r"([0-9]*)-([0-9]*)", re.ASCII)


def parse_range(header: str | None, length: int) -> tuple[int, int] | None:
    """(start, end) inclusive for a `Range` header, None to send it all.

    werkzeug's parse_range_header is not used: it reads `bytes=-0` as the
    whole file (RFC 9110 14.1.3: unsatisfiable) and refuses a suffix longer
    than the file (RFC 9110: the whole file is selected).
    A header in another unit is ignored, as RFC 9110 14.2 requires.
    """
    if header is None or not header.strip():
        return None
    unit, equals, spec = header.strip().partition("=")
    if not equals:
        raise MalformedRange(f"Range header without '=': {header!r}")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        raise MultipleRanges(f"only a single byte range is served: {header!r}")
    match = _BYTE_RANGE.fullmatch(spec.strip())
    if not match or match.group(1) == match.group(2) == "":
        raise MalformedRange(f"not a byte range: {header!r}")
    first, last = match.groups()
    if first == "":  # suffix: the last n bytes
        suffix = int(last)
        if suffix == 0 or length == 0:
            raise UnsatisfiableRange(f"{header!r} selects no byte of {length}")
        return max(length - suffix, 0), length - 1
    start = int(first)
    if last and int(last) < start:
        raise MalformedRange(f"range ends before it starts: {header!r}")
    if start >= length:
        raise UnsatisfiableRange(
            f"{header!r} starts past the end ({length} bytes)")
    end = min(int(last), length - 1) if last else length - 1
    return start, end


class Wanted(NamedTuple):
    """The bytes to send: [start, end] inclusive; partial means 206."""
    start: int
    end: int
    partial: bool


def wanted_bytes(range_header: str | None, if_range: str | None,
                 validator: str | None, length: int) -> Wanted:
    """The bytes a GET asks for, of a representation of `length` bytes
    whose current validator (ETag without quotes) is `validator`.

    An `If-Range` that does not name the current validator asks for the
    whole representation (RFC 9110 13.1.5); so does a Range in another
    unit. Raises MalformedRange (answer 400) or UnsatisfiableRange
    (answer 416, see `unsatisfiable`).
    """
    whole = Wanted(0, length - 1, False)
    if not range_header:
        return whole
    if if_range is not None and (validator is None or
                                 if_range.strip().strip('"') != validator):
        return whole
    selected = parse_range(range_header, length)
    if selected is None:
        return whole
    return Wanted(*selected, True)


def unsatisfiable(length: int, why: str) -> tuple[int, dict[str, str], str]:
    """Status, headers and one-line body of the answer to a range that
    selects no byte (RFC 9110 15.5.17: Content-Range names the size)."""
    return (416, {"Content-Range": f"bytes */{length}"},
            f"unsatisfiable Range: {why}\n")


def content_range(wanted: Wanted, length: int) -> str:
    return f"bytes {wanted.start}-{wanted.end}/{length}"
