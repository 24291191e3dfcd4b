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


def part_count(file_size: int, part_size: int) -> int:
    return max(1, -(-file_size // part_size))


def is_multipart(file_size: int, part_size: int) -> bool:
    return file_size > part_size


def multipart_etag(part_md5_digests: list[bytes]) -> str:
    """The ETag S3 gives a multipart object: md5 of the part md5s, dash, count."""
    joined = hashlib.md5(b"".join(part_md5_digests), usedforsecurity=False)
    return f"{joined.hexdigest()}-{len(part_md5_digests)}"
