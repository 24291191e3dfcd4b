"""One `dcor-depot download` at a time in a dataset's folder.

Two runs into one TARGET would share each file's `.part`: one truncates
what the other is writing, and the other renames a file with a hole. The
lock is an exclusive lock on `{folder}/.dcor-depot.lock` (flock on Unix, a
Windows file lock there, through `filelock`), held while files are written
and the manifest is written; the kernel drops it when the process ends,
however it ends, so a killed run never blocks the next one. The file
itself stays (removing it would let a third run lock a new inode while a
second still holds the old one); its name starts with "." so no manifest
lists it.
"""
from __future__ import annotations

import contextlib
import pathlib
from typing import Iterator

import filelock

from .errors import ClientError

LOCK_NAME = ".dcor-depot.lock"


@contextlib.contextmanager
def exclusive(folder: pathlib.Path) -> Iterator[None]:
    """Hold the folder's lock, or refuse at once in one line."""
    lock = filelock.FileLock(str(folder / LOCK_NAME), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise ClientError(f"another dcor-depot download is writing into "
                          f"{folder}; run this one again once it has "
                          "ended") from None
    except OSError as exc:
        raise ClientError(f"cannot lock {folder / LOCK_NAME}: "
                          f"{exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()
