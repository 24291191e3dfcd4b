"""The audit trail's pure rules."""
import datetime

import pytest

from ckanext.dcor_depot.audit import rules


def test_a_detail_stays_small_and_json():
    assert rules.bounded_detail(None) is None
    assert rules.bounded_detail({"a": [1, "b"]}) == {"a": [1, "b"]}
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5)
    assert rules.bounded_detail({"at": moment}) == \
        {"at": "2026-01-02 03:04:05"}
    cut = rules.bounded_detail({"ids": ["x" * 36] * 1000})
    assert list(cut) == ["cut"]
    assert len(cut["cut"]) == rules.MAX_DETAIL_CHARS


@pytest.mark.parametrize("dataset, resource, current, why", [
    (None, {"state": "active"}, True, "dataset purged"),
    ({"state": "active"}, None, True, "resource purged"),
    ({"state": "deleted", "private": False}, {"state": "active"}, True,
     "dataset deleted"),
    ({"state": "active", "private": True}, {"state": "active"}, True,
     "dataset private"),
    ({"state": "active", "private": False}, {"state": "deleted"}, True,
     "resource deleted"),
    ({"state": "active", "private": False}, {"state": "active"}, False,
     "not the resource's current copy"),
    ({"state": "active", "private": False}, {"state": "active"}, True,
     "dataset public"),
])
def test_why_an_object_is_public_or_not(dataset, resource, current, why):
    assert rules.visibility_reason(dataset, resource, current) == why


def test_times_and_cursors():
    assert rules.parse_time("2026-03-01", "since") == \
        datetime.datetime(2026, 3, 1)
    assert rules.parse_time("2026-03-01T12:00:00+02:00", "since") == \
        datetime.datetime(2026, 3, 1, 10)
    assert rules.parse_time("2026-03-01T10:00:00Z", "until") == \
        datetime.datetime(2026, 3, 1, 10)
    with pytest.raises(ValueError, match="^since: not an ISO 8601"):
        rules.parse_time("soon", "since")
    assert rules.parse_cursor(None) is None
    assert rules.parse_cursor("17") == 17
    for bad in ("x", "0", "-3"):
        with pytest.raises(ValueError, match="^before: not a cursor"):
            rules.parse_cursor(bad)
    assert rules.prune_cutoff(datetime.datetime(2026, 1, 11), 10) == \
        datetime.datetime(2026, 1, 1)
