"""Reading large files past the page cache.

An upload reads each byte once. Through the page cache that read costs a
copy and cache bookkeeping in the kernel (about 1 s of CPU per GiB on a
2-core VM, more than sha256), and it evicts data other processes need.
With O_DIRECT the disk writes straight into page-aligned buffers. File
systems that refuse O_DIRECT (tmpfs) are read the normal way.
"""
from __future__ import annotations

import errno
import mmap
import os


def aligned_buffer(size: int) -> mmap.mmap:
    """A writable, page-aligned buffer of `size` bytes."""
    return mmap.mmap(-1, size)


class DirectReader:
    """Sequential reads into aligned buffers, with O_DIRECT if possible.

    Each read asks for a whole buffer, so offsets stay aligned; should the
    file system still refuse a read, the rest is read through the cache.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.direct = hasattr(os, "O_DIRECT")
        try:
            self.fd = os.open(path, os.O_RDONLY |
                              (os.O_DIRECT if self.direct else 0))
        except OSError as exc:
            if not self.direct or exc.errno != errno.EINVAL:
                raise
            self.fd = os.open(path, os.O_RDONLY)
            self.direct = False

    def __enter__(self) -> "DirectReader":
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def _fall_back(self) -> None:
        cached = os.open(self.path, os.O_RDONLY)
        os.close(self.fd)
        self.fd = cached
        self.direct = False

    def read_into(self, view: memoryview) -> int:
        """Fill `view` from the current offset; fewer bytes only at the end
        of the file."""
        got = 0
        while got < len(view):
            try:
                count = os.preadv(self.fd, [view[got:]], self.offset)
            except OSError as exc:
                if not self.direct or exc.errno != errno.EINVAL:
                    raise
                self._fall_back()
                continue
            if count == 0:
                break
            got += count
            self.offset += count
        return got
