"""Reads past the page cache where the file system allows O_DIRECT."""
import os

import pytest

from ckanext.dcor_depot.storage import direct_read

BLOCK = 1024**2


def read_all(path):
    buffer = direct_read.aligned_buffer(BLOCK)
    chunks = []
    with direct_read.DirectReader(path) as reader, memoryview(buffer) as view:
        while length := reader.read_into(view):
            chunks.append(bytes(view[:length]))
        return b"".join(chunks), reader.direct


@pytest.mark.parametrize("size", [0, 1, BLOCK, 3 * BLOCK + 4097])
def test_reads_every_byte_on_disk(tmp_path, size):
    data = os.urandom(size)
    path = tmp_path / "cells.rtdc"
    path.write_bytes(data)  # still in the page cache: O_DIRECT must see it
    got, direct = read_all(str(path))
    assert got == data
    assert direct is o_direct_works(str(path))


def o_direct_works(path):
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_DIRECT))
        return True
    except OSError:
        return False


def test_tmpfs():
    """Older kernels refuse O_DIRECT on tmpfs, newer ones allow it."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no tmpfs at /dev/shm")
    data = os.urandom(2 * BLOCK + 5)
    path = f"/dev/shm/dcor-depot-direct-read-{os.getpid()}"
    with open(path, "wb") as handle:
        handle.write(data)
    try:
        got, direct = read_all(path)
        assert got == data and direct is o_direct_works(path)
    finally:
        os.remove(path)
