"""The pure rules of the download list."""
import pytest

from ckanext.dcor_depot.download_list import rules


@pytest.mark.parametrize("size,text", [
    (0, "0 bytes"), (999, "999 bytes"), (1000, "1.0 kB"),
    (2_500_000, "2.5 MB"), (2_000_000_000, "2.0 GB"),
    (3 * 10**15, "3000.0 TB"),
])
def test_human_bytes_uses_decimal_units(size, text):
    assert rules.human_bytes(size) == text


def test_limit_refusal_names_list_batch_and_limit():
    assert rules.limit_refusal(98, 1_200_000_000, 2, 10, 100,
                               2_000_000_000) is None
    assert rules.limit_refusal(98, 1_200_000_000, 5, 300_000_000, 100,
                               2_000_000_000) == (
        "not added: the download list holds 98 files (1.2 GB) and this "
        "would add 5 files (300.0 MB), over the limit of 100 files and "
        "2.0 GB")
    # bytes alone, and no byte limit
    assert rules.limit_refusal(1, 1_900_000_000, 1, 200_000_000, 100,
                               2_000_000_000).startswith("not added")
    assert rules.limit_refusal(1, 10**12, 1, 10**12, 100, 0) is None
    assert rules.limit_refusal(100, 0, 1, 0, 100, 0).endswith(
        "over the limit of 100 files")
    # exactly at the limit fits
    assert rules.limit_refusal(99, 0, 1, 2_000_000_000, 100,
                               2_000_000_000) is None


def test_new_ids_ignore_duplicates_and_keep_order():
    assert rules.new_ids({"a"}, ["b", "a", "c", "b"]) == ["b", "c"]
    assert rules.new_ids(set(), []) == []


@pytest.mark.parametrize("size,speed,text", [
    (0, 100, "under a second"),
    (100_000_000, 100, "8 s"),
    (2_000_000_000, 10, "26 min 40 s"),
    (2_000_000_000, 1, "4 h 26 min"),
])
def test_download_time(size, speed, text):
    assert rules.human_duration(rules.download_seconds(size, speed)) == text


@pytest.mark.parametrize("value,speed", [
    ("10", 10), ("1000", 1000), ("7", 100), ("fast", 100), (None, 100),
])
def test_speed_choice_falls_back_to_the_default(value, speed):
    assert rules.speed_choice(value) == speed


@pytest.mark.parametrize("value, local", [
    ("/dataset/cells", True),
    ("/dataset/cells/resource/1?x=a%20b", True),
    ("//evil.example/", False),
    ("/\\evil.example/", False),
    ("/\t/evil.example/", False),
    ("/\n/evil.example/", False),
    ("/ /evil.example/", False),
    ("https://evil.example/", False),
    ("evil.example", False),
    ("", False),
])
def test_only_paths_of_this_site_are_redirected_to(value, local):
    assert rules.is_local_path(value) is local
