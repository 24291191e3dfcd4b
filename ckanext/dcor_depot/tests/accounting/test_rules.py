"""Pure rules of storage accounting (issue 26, item 1)."""
import uuid

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
