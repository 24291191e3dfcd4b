"""The one read-and-hash helper, against hashlib and zlib on real files."""
import hashlib
import os
import zlib

import pytest

from ckanext.dcor_depot import transfer_plan
from ckanext.dcor_depot.storage import digest


@pytest.mark.parametrize("size", [0, 1, 5 * 1024**2, 9 * 1024**2 + 7])
def test_digest_file_matches_the_reference(tmp_path, size):
    data = os.urandom(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    part = 4 * 1024**2 + 3  # not a multiple of the read chunk
    got = digest.digest_file(str(path), md5=True, crc32=True,
                             part_sizes=(part, 5 * 1024**2))
    assert got.size == size
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert got.md5 == hashlib.md5(data).hexdigest()
    assert got.crc32 == zlib.crc32(data)
    for size_of_part in (part, 5 * 1024**2):
        parts = [data[i:i + size_of_part]
                 for i in range(0, len(data), size_of_part)] or [b""]
        md5s = [hashlib.md5(p).digest() for p in parts]
        expected = md5s[0].hex() if len(md5s) == 1 else \
            transfer_plan.multipart_etag(md5s)
        assert got.etag(size_of_part) == expected


def test_digester_takes_any_chunking():
    data = os.urandom(100_000)
    whole = digest.Digester(md5=True, crc32=True, part_sizes=(777,))
    whole.update(data)
    pieces = digest.Digester(md5=True, crc32=True, part_sizes=(777,))
    for start in range(0, len(data), 333):
        pieces.update(memoryview(data)[start:start + 333])
    assert whole.result() == pieces.result()


def test_only_what_was_asked_for():
    got = digest.Digester().result()
    assert (got.md5, got.crc32, got.part_md5s) == (None, None, {})
    with pytest.raises(ValueError):
        got.etag()


def test_copy_while_digesting(tmp_path):
    data = os.urandom(3 * digest.CHUNK_SIZE + 5)
    source, copy = tmp_path / "a", tmp_path / "b"
    source.write_bytes(data)
    seen = []
    with open(source, "rb") as src, open(copy, "wb") as dst:
        got = digest.digest_stream(src, digest.Digester(), seen.append,
                                   copy_to=dst)
    assert copy.read_bytes() == data and sum(seen) == len(data)
    assert got.sha256 == hashlib.sha256(data).hexdigest()
