"""S3 part plans (transfer_plan.py): pure arithmetic."""
import pytest

from ckanext.dcor_depot import transfer_plan


@pytest.mark.parametrize("size", [0, 1, 5 * 1024**2, 100 * 1024**3,
                                  5 * 1024**4])
def test_part_size_respects_limits(size):
    part = transfer_plan.part_size_for(size, 16 * 1024**2)
    assert transfer_plan.MIN_PART_SIZE <= part <= transfer_plan.MAX_PART_SIZE
    assert transfer_plan.part_count(size, part) <= transfer_plan.MAX_PARTS



def test_part_size_rejects_impossible_sizes():
    with pytest.raises(ValueError):
        transfer_plan.part_size_for(-1, 16 * 1024**2)
    with pytest.raises(ValueError):
        transfer_plan.part_size_for(6 * 1024**4, 16 * 1024**2)



@pytest.mark.parametrize("size,largest,parts", [
    (0, 10, [0]),
    (10, 10, [10]),
    (11, 10, [6, 5]),
    (20, 10, [10, 10]),
    (21, 10, [7, 7, 7]),
    (3 * 1024**3 + 1, 1024**3, [805306369] * 3 + [805306366]),
])
def test_client_parts(size, largest, parts):
    """Equal parts of at most `largest`, as DCOR-Aid computes them."""
    got = transfer_plan.client_parts(size, largest)
    assert got == parts and sum(got) == size



def test_client_parts_refuses_impossible_sizes():
    with pytest.raises(ValueError):
        transfer_plan.client_parts(-1, 10)
    with pytest.raises(ValueError):
        transfer_plan.client_parts(10_001, 1)



MIB = 1024**2


@pytest.mark.parametrize("size, preferred, layout", [
    (1, 64 * MIB, (64 * MIB, 1)),
    (64 * MIB, 64 * MIB, (64 * MIB, 1)),
    (64 * MIB + 1, 64 * MIB, (64 * MIB, 2)),
    # 10,000 parts at most: 1 TiB needs parts of 105 MiB, not 64
    (1024**4, 64 * MIB, (105 * MIB, 9987)),
])
def test_part_layout_of_a_client_signing_part_by_part(size, preferred,
                                                      layout):
    assert transfer_plan.part_layout(size, preferred) == layout
    part_size, count = layout
    lengths = [transfer_plan.part_length(size, part_size, n)
               for n in range(1, count + 1)]
    assert sum(lengths) == size and all(0 < n <= part_size for n in lengths)
    assert lengths[:-1] == [part_size] * (count - 1)


def test_etag_of_parts_ends_in_the_part_count_even_for_one():
    import hashlib
    one = hashlib.md5(b"a").hexdigest()
    assert transfer_plan.etag_of_parts([one]) == \
        hashlib.md5(hashlib.md5(b"a").digest()).hexdigest() + "-1"
    assert transfer_plan.etag_of_parts([one, one]).endswith("-2")
