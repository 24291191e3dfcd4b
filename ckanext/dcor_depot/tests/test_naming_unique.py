"""naming.unique_names: safe, unique, deterministic file names (pure)."""
import pytest

from ckanext.dcor_depot import naming

LONG = "x" * 300
FULL = "x" * 195 + ".rtdc"  # exactly MAX_NAME_BYTES: no room for a prefix


@pytest.mark.parametrize("names, ids, expected", [
    # the figshare case of the safety issue: no name is given twice
    (["12_a.txt", "a.txt", "a.txt"], [99, 5, 12],
     ["12_a.txt", "a.txt", "12_2_a.txt"]),
    # the same files listed in another order: plain names stay with the
    # files that carry them
    (["a.txt", "a.txt", "12_a.txt"], [5, 12, 99],
     ["a.txt", "12_2_a.txt", "12_a.txt"]),
    (["a.txt", "a.txt"], [5, 12], ["a.txt", "12_a.txt"]),
    (["a.txt", "b.txt"], [5, 12], ["a.txt", "b.txt"]),
    # case-sensitive: these are two names
    (["A.txt", "a.txt"], [1, 2], ["A.txt", "a.txt"]),
    # names that only become equal once made safe
    (["a/b", "a\\b", "a_b"], [1, 2, 3], ["a_b", "2_a_b", "3_a_b"]),
    (["../x", "x"], [1, 2], ["_x", "x"]),
    # NFC: composed and decomposed umlaut are one name
    (["\u00fc.txt", "u\u0308.txt"], [1, 2], ["\u00fc.txt", "2_\u00fc.txt"]),
    # ids that repeat still end in unique names (the counter loop)
    (["a", "a", "a", "a"], [7, 7, 7, 7], ["a", "7_a", "7_2_a", "7_3_a"]),
    # ids are made safe, too
    (["a", "a"], [1, "../9"], ["a", "_9_a"]),
    ([], [], []),
])
def test_unique_names(names, ids, expected):
    assert naming.unique_names(names, ids) == expected


def test_same_input_same_names():
    names = ["a.txt", "12_a.txt", "a.txt", "A.txt", "a.txt"]
    ids = [5, 99, 12, 3, 4]
    first = naming.unique_names(names, ids)
    assert naming.unique_names(list(names), list(ids)) == first
    assert len(set(first)) == len(first)


@pytest.mark.parametrize("names, ids", [
    ([LONG + ".rtdc", LONG + ".rtdc", LONG + "y.rtdc"], [1, 2, 3]),
    ([FULL, FULL, FULL], [1, 2, "9" * 500]),
    (["ü" * 97 + ".rtdc"] * 3, [1, 2, 3]),
    ([LONG] * 40, [7] * 40),
])
def test_long_names_stay_bounded_and_unique(names, ids, tmp_path):
    folder = tmp_path / "names"
    folder.mkdir()
    result = naming.unique_names(names, ids)
    assert len(set(result)) == len(result)
    for name in result:
        assert len(name.encode()) <= naming.MAX_NAME_BYTES
        assert "/" not in name and not name.startswith(".")
        # a derived name keeps the suffix its safe name has
        assert name.endswith(naming.safe_name(names[0])[-5:])
        (folder / name).write_bytes(b"")  # a name the file system takes
    assert len(list(folder.iterdir())) == len(result)


def test_many_collisions_end():
    names = ["a"] + [f"9_{n}_a" for n in range(2, 50)] + ["a", "9_a"]
    ids = list(range(len(names) - 2)) + [9, 9]
    result = naming.unique_names(names, ids)
    assert len(set(result)) == len(result) == len(names)
    assert result[-2] == "9_50_a"


@pytest.mark.parametrize("names, ids, error", [
    (["a", ".."], [1, 2], naming.UnsafeNameError),
    (["a", "a"], [1, "/"], naming.UnsafeNameError),
    (["a"], [1, 2], ValueError),
])
def test_unusable_input(names, ids, error):
    with pytest.raises(error):
        naming.unique_names(names, ids)
