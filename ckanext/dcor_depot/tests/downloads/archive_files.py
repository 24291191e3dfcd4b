"""Real files for the archive engine tests: random content written to
tmp_path, members made from them, and an opener that reads them back from
an offset (what the depot does with a seek) and records what it was asked.
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import random
import zlib

from ckanext.dcor_depot.downloads import archive_layout, archive_stream

CHUNK = 64 * 1024
MIB = 1024 ** 2
GIB = 1024 ** 3

LONG_NAME = "long resource name " + "x" * 140 + ".rtdc"
# paths as the manifest function would give them: {dataset}/{resource};
# nested folders too, and names past tar's 100-byte ustar field (in
# characters and, for the Unicode one, only in UTF-8 bytes)
TREE = {
    "calibration-beads/M001_data.rtdc": 300_000,
    "calibration-beads/empty notes.txt": 0,
    "calibration-beads/one byte": 1,
    "blood donor 7/Messung ünïcödé — 測定 1.rtdc": 65_536,
    "blood donor 7/" + "ü" * 60 + ".h5": 65_537,
    "blood donor 7/" + LONG_NAME: 511,
    "blood donor 7/sub folder/deeper/level three/block.bin": 512,
    "blood donor 7/sub folder/513 bytes.tsv": 513,
    "blood donor 7/sub folder/almost a chunk.bin": 65_535,
    "zz-last dataset/big.rtdc": 1_000_003,
}


class FileStore:
    """Resource files on disk by key, like the depot (not by archive path)."""

    def __init__(self, folder: pathlib.Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.opened: list[tuple[str, int]] = []  # (key, offset) per open
        self.closed: list[str] = []  # keys whose file was closed

    def path(self, key: str) -> pathlib.Path:
        return self.folder / key

    def open_member(self, member: archive_layout.Member, offset: int):
        self.opened.append((member.key, offset))
        return self._read(member.key, offset)

    def _read(self, key: str, offset: int):
        try:
            with open(self.path(key), "rb") as handle:
                handle.seek(offset)
                while block := handle.read(CHUNK):
                    yield block
        finally:
            self.closed.append(key)


def make_members(folder: pathlib.Path, tree: dict[str, int] = TREE, *,
                 crc32: bool = True, seed: int = 0):
    """Write a random file per path; return (members, store)."""
    store = FileStore(folder)
    rng = random.Random(seed)
    members = []
    for index, (path, size) in enumerate(tree.items()):
        key = f"rid-{index:04d}"
        data = rng.randbytes(size)
        store.path(key).write_bytes(data)
        mtime = 1_600_000_000 + 3601 * index + index % 2  # odd seconds too
        os.utime(store.path(key), (mtime, mtime))
        members.append(archive_layout.Member(
            path=path, size=size, mtime=int(store.path(key).stat().st_mtime),
            sha256=hashlib.sha256(data).hexdigest(),
            crc32=zlib.crc32(data) if crc32 else None, key=key))
    return members, store


def must_not_fail(member, message):
    raise AssertionError(f"unexpected integrity error: {message}")


def stream_bytes(layout, store, start=0, end=None,
                 on_integrity_error=must_not_fail) -> bytes:
    end = layout.length - 1 if end is None else end
    return b"".join(archive_stream.stream(
        layout, start, end, store.open_member, on_integrity_error))


def data_span(layout, key: str) -> tuple[int, int]:
    """Archive offsets [start, end) of the data of the member with `key`."""
    for segment in layout.segments:
        if segment.kind == archive_layout.DATA and \
                layout.members[segment.member].key == key:
            return segment.start, segment.start + segment.length
    raise KeyError(key)
