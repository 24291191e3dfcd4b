"""A download's `.part` file, written without filling the page cache.

Written as usual, a download of tens of GB leaves its bytes behind as
dirty pages: the kernel writes them out in bursts at its dirty limit and
evicts what the machine had cached to make room. Here every
`FLUSH_BYTES` written are flushed to the disk and dropped from the cache
(fdatasync, then POSIX_FADV_DONTNEED, as `dd oflag=nocache` does), so the
cache holds at most that much of each file, the same pages are used again,
and the prefix that a resumed download hashes is on the disk. Where the
system lacks either call (macOS, Windows), or the file system refuses it,
the file is written as usual; an error of the disk itself (EIO, ENOSPC)
surfaces here as it would at the close.
"""
from __future__ import annotations

import errno
import os
from typing import BinaryIO

FLUSH_BYTES = 64 * 1024**2
_CAN_DROP = hasattr(os, "fdatasync") and hasattr(os, "posix_fadvise")
# what a file system without these calls answers
_NOT_SUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


class PartFile:
    """Writes to an open binary file, flushing and dropping every
    `flush_bytes`."""

    def __init__(self, handle: BinaryIO, flush_bytes: int = FLUSH_BYTES):
        self.handle = handle
        self.flush_bytes = flush_bytes
        self._unflushed = 0
        self._drop = _CAN_DROP

    def write(self, chunk: bytes) -> None:
        self.handle.write(chunk)
        self._unflushed += len(chunk)
        if self._unflushed >= self.flush_bytes:
            self.flush_to_disk()

    def restart(self) -> None:
        """Empty the file (the server sent the whole file again)."""
        self.handle.seek(0)
        self.handle.truncate(0)
        self._unflushed = 0

    def sync(self) -> os.stat_result:
        """Put every byte written on the disk (the .part is about to get
        its final name: a crash must not leave that name on fewer bytes)
        and return the file's identity and size as this writer sees it."""
        self.flush_to_disk()
        if not self._drop:  # no fdatasync here, or the file system refused it
            try:
                os.fsync(self.handle.fileno())
            except OSError as exc:
                if exc.errno not in _NOT_SUPPORTED:
                    raise
        return os.fstat(self.handle.fileno())

    def flush_to_disk(self) -> None:
        self.handle.flush()
        self._unflushed = 0
        if not self._drop:
            return
        descriptor = self.handle.fileno()
        try:
            os.fdatasync(descriptor)
            # every page is clean now: drop them all (length 0: to the end)
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError as exc:
            if exc.errno not in _NOT_SUPPORTED:
                raise
            self._drop = False


def still_written_file(part: os.PathLike | str, written: os.stat_result,
                       size: int) -> bool:
    """Whether the path `part` still names the file a writer wrote
    (`PartFile.sync`), at its full `size`. Under the folder's lock no
    other `dcor-depot download` writes there; this catches another
    program that replaced, removed or cut the .part meanwhile, without
    reading the file again."""
    try:
        now = os.stat(part)
    except FileNotFoundError:
        return False
    return ((now.st_dev, now.st_ino) == (written.st_dev, written.st_ino)
            and now.st_size == written.st_size == size)
