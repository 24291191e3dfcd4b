"""One pass over bytes, every checksum at once.

Whatever reads a file or a stream anyway (a copy, an upload, a backup, a
download from figshare or S3) feeds a `Digester`, which computes the
sha256 and, on request, the md5, the CRC-32 and the md5 of each S3 part
(from which the object's ETag follows) in that same pass. `digest_file`
reads a file once for the ones asked for.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import BinaryIO, Callable

from zlib_ng import zlib_ng  # SIMD CRC-32, a tenth of zlib's CPU

from .. import transfer_plan

CHUNK_SIZE = 4 * 1024**2


@dataclasses.dataclass(frozen=True)
class Digests:
    size: int
    sha256: str
    md5: str | None = None
    crc32: int | None = None
    # part size -> md5 of each part, for the part sizes asked for
    part_md5s: dict[int, tuple[bytes, ...]] = dataclasses.field(
        default_factory=dict)

    def etag(self, part_size: int | None = None,
             multipart: bool | None = None) -> str:
        """The ETag S3 gives these bytes uploaded in parts of `part_size`
        (the only one asked for, if None); a single part has the plain
        md5 unless it was a multipart upload (`multipart`: ends in -1)."""
        if part_size is None:
            part_size, = self.part_md5s
        md5s = self.part_md5s[part_size]
        if len(md5s) == 1 and not multipart:
            return md5s[0].hex()
        return transfer_plan.multipart_etag(list(md5s))


class _Parts:
    """md5 of each part of one part size, as the bytes pass."""

    def __init__(self, part_size: int) -> None:
        self.part_size = part_size
        self.done: list[bytes] = []
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._filled = 0

    def update(self, view: memoryview) -> None:
        while view:
            take = min(len(view), self.part_size - self._filled)
            self._md5.update(view[:take])
            self._filled += take
            view = view[take:]
            if self._filled == self.part_size:
                self.done.append(self._md5.digest())
                self._md5 = hashlib.md5(usedforsecurity=False)
                self._filled = 0

    def result(self) -> tuple[bytes, ...]:
        if self._filled or not self.done:
            return (*self.done, self._md5.digest())
        return tuple(self.done)


class Digester:
    """Feed it bytes in order with `update`; `result()` gives the digests:
    sha256 always, md5, CRC-32 and the part md5s of the given part sizes
    on request."""

    def __init__(self, *, md5: bool = False, crc32: bool = False,
                 part_sizes: tuple[int, ...] = ()) -> None:
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self._crc32 = 0 if crc32 else None
        self._parts = [_Parts(size) for size in dict.fromkeys(part_sizes)]

    def update(self, chunk: bytes | memoryview) -> None:
        self.size += len(chunk)
        self._sha256.update(chunk)
        if self._md5 is not None:
            self._md5.update(chunk)
        if self._crc32 is not None:
            self._crc32 = zlib_ng.crc32(chunk, self._crc32)
        for parts in self._parts:
            parts.update(memoryview(chunk))

    def result(self) -> Digests:
        return Digests(
            size=self.size, sha256=self._sha256.hexdigest(),
            md5=self._md5.hexdigest() if self._md5 else None,
            crc32=self._crc32,
            part_md5s={parts.part_size: parts.result()
                       for parts in self._parts})


def digest_stream(handle: BinaryIO, digester: Digester,
                  progress: Callable[[int], None] | None = None,
                  copy_to: BinaryIO | None = None) -> Digests:
    """Read `handle` to its end into `digester` (and `copy_to`)."""
    while chunk := handle.read(CHUNK_SIZE):
        digester.update(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
        if progress:
            progress(len(chunk))
    return digester.result()


def digest_file(path: str, *, md5: bool = False, crc32: bool = False,
                part_sizes: tuple[int, ...] = (), from_disk: bool = False,
                progress: Callable[[int], None] | None = None) -> Digests:
    """Read a file once for its digests. `from_disk` asks the kernel to
    drop its cached pages first, so that a verification reads the disk."""
    with open(path, "rb") as handle:
        if from_disk:
            _drop_cache(handle)
        return digest_stream(handle, Digester(md5=md5, crc32=crc32,
                                              part_sizes=part_sizes),
                             progress)


def _drop_cache(handle: BinaryIO) -> None:
    try:
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    except (AttributeError, OSError):
        pass
