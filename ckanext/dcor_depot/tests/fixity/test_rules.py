"""The pure rules of rolling fixity."""
import datetime

import pytest

from ckanext.dcor_depot.fixity import rules


@pytest.mark.parametrize("text,expected", [
    ("500", 500), ("2k", 2000), ("200G", 200 * 10**9),
    ("1.5TiB", int(1.5 * 1024**4)), ("3 MB", 3 * 10**6), ("1gib", 1024**3)])
def test_parse_bytes(text, expected):
    assert rules.parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "-5", "5X", "0", "1..2G"])
def test_parse_bytes_refuses(text):
    with pytest.raises(ValueError, match="byte count"):
        rules.parse_bytes(text)


def test_budget_takes_in_order_skips_the_too_large_and_stops():
    budget = rules.Budget(100)
    decisions = []
    for cost in (40, 150, 50, 20):
        decision = budget.decide(cost)
        decisions.append(decision)
        if decision == rules.TAKE:
            budget.spend(cost)
        if decision == rules.STOP:
            break
    assert decisions == [rules.TAKE, rules.TOO_LARGE, rules.TAKE, rules.STOP]
    assert budget.spent == 90
    unlimited = rules.Budget(None)
    assert unlimited.decide(10**15) == rules.TAKE


def test_pause_keeps_the_rate():
    assert rules.pause_for(10_000_000, 0.5, 10e6) == pytest.approx(0.5)
    assert rules.pause_for(10_000_000, 2.0, 10e6) == 0
    assert rules.pause_for(10**12, 0.0, None) == 0


def test_due_at_puts_a_never_read_copy_first():
    old = datetime.datetime(2026, 1, 1)
    assert rules.due_at([old, None]) == rules.NEVER
    assert rules.due_at([old, datetime.datetime(2026, 6, 1)]) == old


@pytest.mark.parametrize("found,source", [
    ({"depot": "ok", "object": "mismatch"}, ("object", "depot")),
    ({"depot": "ok", "object": "missing"}, ("object", "depot")),
    ({"depot": "mismatch", "object": "ok"}, ("depot", "object")),
    ({"depot": "missing", "object": "ok"}, ("depot", "object")),
    ({"depot": "mismatch", "object": "mismatch"}, None),
    ({"depot": "absent", "object": "mismatch"}, None),
    ({"depot": "ok", "object": "ok"}, None),
    ({"depot": "mismatch"}, None),
])
def test_repair_only_from_a_twin_verified_now(found, source):
    assert rules.repair_source(found) == source


def test_integrity_needs_one_good_copy():
    assert rules.integrity_after({"depot": "repaired", "object": "ok"})
    assert not rules.integrity_after({"depot": "mismatch",
                                      "object": "missing"})
    assert not rules.integrity_after({"depot": "absent",
                                      "object": "mismatch"})


def test_backlog_line_says_how_far_behind():
    now = datetime.datetime(2026, 12, 5)
    behind = rules.Backlog(copies=10, total_bytes=90 * 10**12, overdue=3,
                           overdue_bytes=2 * 10**12,
                           oldest_verified=now - datetime.timedelta(days=120))
    line = rules.backlog_line(behind, 90, now)
    assert "3 of 10 copies (2.0 TB)" in line
    assert "verified 120 days ago, 30 days behind" in line
    assert "nightly budget of 1.0 TB" in line
    fine = rules.Backlog(10, 90 * 10**12, 0, 0, now)
    assert rules.backlog_line(fine, 90, now).startswith("within the window")
    assert rules.nightly_bytes(90 * 10**12 + 1, 90) == 10**12 + 1
