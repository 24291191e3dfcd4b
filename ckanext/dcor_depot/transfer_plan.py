"""Pure arithmetic of S3 multipart transfers (S3's documented limits)."""
from __future__ import annotations

import hashlib

MIB = 1024**2
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * 1024**3
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * 1024**4


def part_size_for(file_size: int, preferred: int) -> int:
    """Smallest part size >= `preferred` that needs at most MAX_PARTS parts,
    rounded up to whole MiB."""
    if file_size < 0 or file_size > MAX_OBJECT_SIZE:
        raise ValueError(f"file size {file_size} is outside 0..{MAX_OBJECT_SIZE}")
    needed = -(-file_size // MAX_PARTS)
    size = max(preferred, needed, MIN_PART_SIZE)
    size = -(-size // MIB) * MIB
    return min(size, MAX_PART_SIZE)


def client_parts(file_size: int, max_part_size: int) -> list[int]:
    """Part sizes of a client's presigned upload: as few equal parts of at
    most `max_part_size` as possible, the last one smaller by the remainder.
    One part means a single PUT. This is the plan DCOR-Aid computes on its
    own (with 1 GiB), so the URLs must follow it exactly."""
    if file_size < 0 or file_size > MAX_OBJECT_SIZE:
        raise ValueError(f"file size {file_size} is outside 0..{MAX_OBJECT_SIZE}")
    count = max(1, -(-file_size // max_part_size))
    if count > MAX_PARTS:
        raise ValueError(f"file size {file_size} needs {count} parts of at "
                         f"most {max_part_size} bytes; S3 allows {MAX_PARTS}")
    size = -(-file_size // count)
    return [size] * (count - 1) + [file_size - size * (count - 1)]


def part_count(file_size: int, part_size: int) -> int:
    return max(1, -(-file_size // part_size))


def is_multipart(file_size: int, part_size: int) -> bool:
    return file_size > part_size


def multipart_etag(part_md5_digests: list[bytes]) -> str:
    """The ETag S3 gives a multipart object: md5 of the part md5s, dash, count."""
    joined = hashlib.md5(b"".join(part_md5_digests), usedforsecurity=False)
    return f"{joined.hexdigest()}-{len(part_md5_digests)}"


def part_layout(file_size: int, preferred: int) -> tuple[int, int]:
    """(part size, part count) of a multipart upload that a client sends
    part by part: parts of `preferred` bytes (larger where S3's 10,000
    parts would not do), the last one shorter by the remainder."""
    size = part_size_for(file_size, preferred)
    return size, part_count(file_size, size)


def part_length(file_size: int, part_size: int, number: int) -> int:
    """Bytes of part `number` (from 1) of that layout."""
    return min(part_size, file_size - part_size * (number - 1))


def etag_of_parts(part_etags: list[str]) -> str:
    """The ETag S3 gives the object completed from parts with these ETags
    (hex md5s), whatever their number: one part too ends in -1."""
    return multipart_etag([bytes.fromhex(etag) for etag in part_etags])
