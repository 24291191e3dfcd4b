"""Pure rules of storage accounting (issue 26, item 1)."""
import uuid

import pytest

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.accounting import rules


def test_our_keys_are_classified_and_others_are_not():
    rid = str(uuid.uuid4())
    for artifact in ("resource", "condensed", "preview"):
        assert rules.classify_key(naming.object_key(artifact, rid)) == \
            (artifact, rid)
    assert rules.classify_key(naming.staging_key(rid)) == ("staging", rid)
    for foreign in ("doctor/probe", "staging/abc", "resource/x/y/z",
                    "staging/" + rid, naming.object_key("resource", rid) + "/"):
        assert rules.classify_key(foreign) is None


def test_differences_merge_two_sorted_streams():
    listed = [("a", 1), ("b", 2), ("d", 4), ("e", 5)]
    recorded = [("b", 2), ("c", 3), ("d", 40)]
    found = list(rules.differences(listed, recorded))
    assert [(d.key, d.listed_size, d.recorded_size) for d in found] == [
        ("a", 1, None), ("c", None, 3), ("d", 4, 40), ("e", 5, None)]
    assert sum(d.drift_bytes for d in found) == 1 - 3 + (4 - 40) + 5


def test_differences_read_the_streams_lazily():
    def endless(prefix):
        n = 0
        while True:
            yield f"{prefix}{n:012d}", 1
            n += 1
    found = rules.differences(endless("a"), endless("b"))
    assert next(found).key == "a000000000000"


def test_human_bytes_are_decimal():
    assert rules.human_bytes(999) == "999 bytes"
    assert rules.human_bytes(940_200_000_000) == "940.2 GB"
    assert rules.human_bytes(10**12) == "1.0 TB"
    assert rules.signed_bytes(-1500) == "-1.5 kB"


def _figures(used, reserved, quota):
    return rules.figures({"resource": (used, 3)}, quota, (reserved, 1), 2, 3,
                         [{"id": "x", "name": "x", "title": "X",
                           "bytes": used, "files": 3}], "now", None)


@pytest.mark.parametrize("used, reserved, quota, percent, level", [
    (7999, 0, 10_000, 80.0, None),  # shown rounded, warned only from 80 %
    (8000, 0, 10_000, 80.0, "warning"),
    (7000, 1000, 10_000, 80.0, "warning"),  # reservations count
    (9499, 0, 10_000, 95.0, "warning"),
    (9000, 500, 10_000, 95.0, "danger"),
    (12_000, 0, 10_000, 120.0, "danger"),
    (10**12, 0, 0, None, None),  # no quota: no share, no warning
])
def test_quota_panel_warns_at_80_and_95_percent(used, reserved, quota,
                                                percent, level):
    panel = rules.quota_panel(_figures(used, reserved, quota))
    assert panel["percent"] == percent and panel["level"] == level
    assert panel["held_bytes"] == used + reserved
    if quota:
        assert panel["bar_percent"] == pytest.approx(
            min(100.0, 100 * (used + reserved) / quota))
    assert [part["artifact"] for part in panel["by_artifact"]] == \
        list(rules.ARTIFACTS)
    assert panel["by_artifact"][0]["bytes"] == used
    assert panel["largest"][0]["text"] == rules.human_bytes(used)


def test_refusal_lines_are_one_line():
    assert rules.over_quota("lab-a", 3000, 2000) == \
        "circle lab-a holds 3.0 kB of its 2.0 kB quota (1.0 kB over)"
    line = rules.quota_unavailable("lab-a", ConnectionError(
        "Error 111 connecting\nsecond line"))
    assert line == ("not accepted now: the quota of circle lab-a cannot be "
                    "checked (Error 111 connecting); try again later")
