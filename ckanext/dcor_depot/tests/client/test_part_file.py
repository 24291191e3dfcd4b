"""A download's .part file does not fill the page cache: every
FLUSH_BYTES written are on the disk and out of the cache."""
import os

import pytest

from ckanext.dcor_depot.client.part_file import PartFile

from ..helpers import page_cache_bytes

MB = 1024**2
CHUNK = 4 * MB


def write(path, total, through_part_file, flush_bytes=32 * MB):
    block = os.urandom(CHUNK)
    with open(path, "w+b") as handle:
        writer = PartFile(handle, flush_bytes) if through_part_file \
            else handle
        for _ in range(total // CHUNK):
            writer.write(block)
    return block


def test_at_most_one_flush_interval_stays_cached(tmp_path):
    plain, dropped = tmp_path / "plain.part", tmp_path / "dropped.part"
    write(plain, 160 * MB, through_part_file=False)
    if page_cache_bytes(plain) is None:
        pytest.skip("no fincore, or a file system that keeps files in RAM")
    # the measure sees a file written as usual: all of it is cached
    assert page_cache_bytes(plain) >= 150 * MB
    block = write(dropped, 160 * MB, through_part_file=True)
    assert page_cache_bytes(dropped) <= 32 * MB + CHUNK
    # and every byte is there
    assert os.path.getsize(dropped) == 160 * MB
    with open(dropped, "rb") as handle:
        while chunk := handle.read(CHUNK):
            assert chunk == block


def test_restart_empties_the_file(tmp_path):
    path = tmp_path / "restart.part"
    with open(path, "w+b") as handle:
        writer = PartFile(handle, flush_bytes=MB)
        writer.write(b"x" * (3 * MB))
        writer.restart()
        writer.write(b"fresh")
    assert path.read_bytes() == b"fresh"


def test_a_file_that_refuses_fdatasync_is_written_as_usual():
    # a character device answers fdatasync with EINVAL, as some file
    # systems do: the bytes still go on, without the drop
    with open(os.devnull, "wb") as handle:
        writer = PartFile(handle, flush_bytes=MB)
        for _ in range(3):
            writer.write(b"x" * MB)
        assert writer._drop is False
