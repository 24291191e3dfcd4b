"""I/O on block storage: hashing, verified copies and the depot symlink.

Nothing here removes or replaces a file before the bytes at the new place
have been verified (size and sha256).
"""
from __future__ import annotations

import dataclasses
import errno
import os
import stat
import uuid
from typing import Callable

from . import digest


class DepotError(RuntimeError):
    """A depot operation cannot go on without risking data."""


@dataclasses.dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    sha256: str
    crc32: int | None = None  # where the read computed it


def file_info(path: str, *, crc32: bool = False,
              progress: Callable[[int], None] | None = None) -> FileInfo:
    """Size and sha256 (and CRC-32) of a file, read from disk once."""
    got = digest.digest_file(path, crc32=crc32, from_disk=True,
                             progress=progress)
    return FileInfo(path, got.size, got.sha256, got.crc32)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path(folder: str, name: str) -> str:
    """A fresh temporary file name in `folder` for a future `name`."""
    os.makedirs(folder, exist_ok=True)
    return _temp_name(os.path.join(folder, name), "part")


def _temp_name(path: str, tag: str, suffix: str | None = None) -> str:
    folder, name = os.path.split(path)
    suffix = suffix or uuid.uuid4().hex[:12]
    # short enough for NAME_MAX even when `name` is long
    return os.path.join(folder, f".{name[:180]}.{tag}-{suffix}")


def resumable_temp_path(target: str) -> str:
    """The one fixed temporary name of a download into `target` that a
    later run resumes (figshare). It follows the rule of every other
    temporary copy, so `remove_stale_temps(target)` removes it too: call
    that only where nothing is to be resumed."""
    return _temp_name(target, "part", "resume")


def copy_to_temp(source: str, folder: str,
                 progress: Callable[[int], None] | None = None
                 ) -> tuple[str, FileInfo]:
    """Copy `source` into a temporary file in `folder`, fsynced.

    Returns the temporary path and size, sha256 and CRC-32 of the source
    bytes, computed while copying (the source is read once).
    """
    os.makedirs(folder, exist_ok=True)
    temp = _temp_name(os.path.join(folder, os.path.basename(source)), "part")
    try:
        with open(source, "rb") as src, open(temp, "xb") as dst:
            got = digest.digest_stream(src, digest.Digester(crc32=True),
                                       progress, copy_to=dst)
            dst.flush()
            os.fsync(dst.fileno())
    except BaseException:
        _remove_quietly(temp)
        raise
    return temp, FileInfo(source, got.size, got.sha256, got.crc32)


def place_verified(temp: str, expected: FileInfo, target: str) -> FileInfo:
    """Read `temp` back from disk, compare it with `expected` and give it
    the name `target` (which must not exist). `temp` is removed either way."""
    try:
        copied = file_info(temp)
        if (copied.size, copied.sha256) != (expected.size, expected.sha256):
            raise DepotError(
                f"copy of {expected.path} does not verify: size {copied.size}"
                f" vs {expected.size}, sha256 {copied.sha256} vs "
                f"{expected.sha256}")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # link() fails if a racing worker already put a file there
        os.link(temp, target)
    finally:
        _remove_quietly(temp)
    _fsync_dir(os.path.dirname(target))
    return FileInfo(target, expected.size, expected.sha256, expected.crc32)


def replace_verified(temp: str, expected_sha256: str, target: str
                     ) -> FileInfo:
    """Read `temp` back from disk and, only if its sha256 is
    `expected_sha256`, rename it over `target` (a damaged or missing
    copy), keeping the old file's mode: the file at `target` changes in
    one step and only to verified bytes. `temp` is removed if it does not
    verify."""
    copied = file_info(temp)
    if copied.sha256 != expected_sha256:
        _remove_quietly(temp)
        raise DepotError(f"replacement for {target} does not verify: sha256 "
                         f"{copied.sha256}, expected {expected_sha256}")
    try:
        os.chmod(temp, stat.S_IMODE(os.stat(target).st_mode))
    except FileNotFoundError:
        pass
    os.replace(temp, target)
    _fsync_dir(os.path.dirname(target))
    return FileInfo(target, copied.size, copied.sha256)


def copy_verified(source: str, target: str) -> FileInfo:
    """Copy `source` to `target` (which must not exist) and verify the copy
    before it gets its name."""
    if os.path.lexists(target):
        raise DepotError(f"refusing to overwrite {target}")
    temp, info = copy_to_temp(source, os.path.dirname(target))
    return place_verified(temp, info, target)


def remove_stale_temps(target: str) -> int:
    """Remove temporary copies of `target` left by killed runs. They are
    never the only copy: the source stays until the symlink is in place."""
    folder, name = os.path.split(target)
    prefix = f".{name[:180]}.part-"
    removed = 0
    if os.path.isdir(folder):
        for entry in os.scandir(folder):
            if entry.name.startswith(prefix) and entry.is_file(
                    follow_symlinks=False):
                _remove_quietly(entry.path)
                removed += 1
    return removed


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def same_file_bytes(a: str, b: str) -> bool:
    """True if two paths hold the same bytes (same inode, or same hash)."""
    sa, sb = os.stat(a), os.stat(b)
    if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
        return True
    if sa.st_size != sb.st_size:
        return False
    return file_info(a).sha256 == file_info(b).sha256


def replace_with_symlink(path: str, target: str) -> None:
    """Atomically make `path` a symlink to `target` (an existing file)."""
    if not os.path.isfile(target):
        raise DepotError(f"symlink target {target} is not a file")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = _temp_name(path, "link")
    os.symlink(target, temp)
    try:
        os.replace(temp, path)
    except BaseException:
        _remove_quietly(temp)
        raise
    _fsync_dir(os.path.dirname(path))


def move_into_depot(ckan_path: str, depot_path: str) -> str:
    """Put the file at `ckan_path` into `depot_path`, leave a symlink.

    Returns how it went: "linked" (same file system: a hard link, no bytes
    copied), "copied" (verified copy across file systems), "symlinked" (the
    depot already held the same bytes) or "done" (nothing to do). Safe to
    re-run after a crash at any point; raises DepotError where going on
    could lose data.
    """
    if os.path.islink(ckan_path):
        current = os.path.realpath(ckan_path)
        if not os.path.isfile(current):
            raise DepotError(f"{ckan_path} is a dangling symlink to {current}")
        # in this depot, or placed by another one (e.g. figshare)
        return "done"

    if not os.path.lexists(ckan_path):
        if os.path.isfile(depot_path):
            # a crash after the depot copy and before the symlink
            replace_with_symlink(ckan_path, depot_path)
            return "symlinked"
        raise DepotError(f"no file at {ckan_path} and none at {depot_path}")

    if not os.path.isfile(ckan_path):
        raise DepotError(f"{ckan_path} is not a regular file")

    if os.path.lexists(depot_path):
        if not os.path.isfile(depot_path) or os.path.islink(depot_path):
            raise DepotError(f"{depot_path} exists and is not a regular file")
        if not same_file_bytes(ckan_path, depot_path):
            raise DepotError(
                f"{depot_path} exists with other bytes than {ckan_path}")
        replace_with_symlink(ckan_path, depot_path)
        return "symlinked"

    os.makedirs(os.path.dirname(depot_path), exist_ok=True)
    try:
        os.link(ckan_path, depot_path)
        how = "linked"
        _fsync_dir(os.path.dirname(depot_path))
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK,
                             errno.ENOTSUP):
            raise
        remove_stale_temps(depot_path)
        copy_verified(ckan_path, depot_path)
        how = "copied"
    replace_with_symlink(ckan_path, depot_path)
    return how


# Maintenance: walking the depot and removing files. What may be removed
# is decided by the workflows (orphans, migration), never here.

@dataclasses.dataclass(frozen=True)
class DepotEntry:
    path: str
    is_regular_file: bool  # False for symlinks and special files
    mtime: float


def iter_depot_entries(folder: str):
    """Every non-folder below `folder`, one directory at a time (symlinks
    are not followed)."""
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            try:
                info = os.lstat(path)
            except FileNotFoundError:  # removed meanwhile
                continue
            yield DepotEntry(path, stat.S_ISREG(info.st_mode), info.st_mtime)


def same_file(a: str, b: str) -> bool:
    """True if both paths exist and lead to the same file (symlinks
    followed, hard links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def remove_file(path: str) -> bool:
    """Unlink one file; False if it was gone already."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def remove_local_copy(path: str) -> int:
    """Remove CKAN's file of a resource: the symlink and the depot file it
    points to, or the plain file. Returns the number of files removed."""
    removed = 0
    if os.path.islink(path):
        target = os.path.realpath(path)
        removed += remove_file(path)
        if os.path.isfile(target):
            removed += remove_file(target)
    elif os.path.isfile(path):
        removed += remove_file(path)
    return removed
