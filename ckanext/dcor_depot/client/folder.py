"""A local folder and its MANIFEST.sha256 (djarchive's manifest): which
files it holds, their sha256, and how it differs from its manifest.

Files and folders whose name starts with "." are skipped, and so is the
manifest itself. Paths are relative to the folder, with "/".
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import threading

from .. import manifest
from .errors import ClientError

CHUNK = 4 * 1024**2


def prefix_sha256(path: os.PathLike | str, length: int,
                  cancel: threading.Event | None = None):
    """The sha256 object of the first `length` bytes of a file (fewer if it
    is shorter); a set `cancel` stops it with KeyboardInterrupt."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        left = length
        while left:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                break
            if cancel is not None and cancel.is_set():
                raise KeyboardInterrupt
            digest.update(chunk)
            left -= len(chunk)
    return digest


def file_sha256(path: os.PathLike | str,
                cancel: threading.Event | None = None) -> str:
    return prefix_sha256(path, os.stat(path).st_size, cancel).hexdigest()


def tracked_files(folder: os.PathLike | str) -> list[str]:
    """Relative paths of every file below `folder`, sorted."""
    root = pathlib.Path(folder)
    if not root.is_dir():
        raise ClientError(f"{folder} is not a folder")
    found = []
    for base, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if name.startswith("."):
                continue
            relative = pathlib.Path(base, name).relative_to(root).as_posix()
            if relative != manifest.MANIFEST_NAME:
                found.append(relative)
    return sorted(found)


def folder_entries(folder: os.PathLike | str) -> list[tuple[str, str]]:
    """(sha256, path) of every tracked file."""
    return [(file_sha256(pathlib.Path(folder, path)), path)
            for path in tracked_files(folder)]


def write_manifest(folder: os.PathLike | str) -> pathlib.Path:
    """Write `folder/MANIFEST.sha256` over every tracked file."""
    try:
        text = manifest.manifest_text(folder_entries(folder))
    except manifest.BadManifest as exc:
        raise ClientError(f"cannot list a file of {folder} in "
                          f"{manifest.MANIFEST_NAME}: {exc}") from None
    return write_text_atomically(pathlib.Path(folder, manifest.MANIFEST_NAME),
                                 text)


def write_text_atomically(path: pathlib.Path, text: str) -> pathlib.Path:
    temp = path.with_name(f".{path.name}.part")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)
    return path


def read_manifest(path: os.PathLike | str) -> list[tuple[str, str]]:
    """(sha256, path) of a manifest file; a bad line is a ClientError."""
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ClientError(f"{path} is not UTF-8 text") from None
    try:
        entries = manifest.parse_manifest(text)
    except manifest.BadManifest as exc:
        raise ClientError(f"{path}: {exc}") from None
    seen = set()
    for _, entry in entries:
        if entry in seen:
            raise ClientError(f"{path}: {entry} is listed twice")
        seen.add(entry)
    return entries


@dataclasses.dataclass
class FolderCheck:
    """How a folder differs from its manifest; `sha256` holds the digest of
    every file that was hashed (all tracked ones listed in the manifest)."""
    mismatched: list[str]
    missing: list[str]
    untracked: list[str]
    sha256: dict[str, str]

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.missing or self.untracked)

    def problems(self) -> list[str]:
        return ([f"mismatch: {p}" for p in self.mismatched]
                + [f"missing: {p}" for p in self.missing]
                + [f"untracked: {p}" for p in self.untracked])


def check_folder(folder: os.PathLike | str) -> FolderCheck:
    """Compare `folder` with `folder/MANIFEST.sha256` (which must exist)."""
    path = pathlib.Path(folder, manifest.MANIFEST_NAME)
    if not path.is_file():
        raise ClientError(f"{path} does not exist")
    listed = dict((p, sha) for sha, p in read_manifest(path))
    present = tracked_files(folder)
    check = FolderCheck([], sorted(set(listed) - set(present)),
                        sorted(set(present) - set(listed)), {})
    for relative in present:
        if relative in listed:
            digest = file_sha256(pathlib.Path(folder, relative))
            check.sha256[relative] = digest
            if digest != listed[relative]:
                check.mismatched.append(relative)
    return check
