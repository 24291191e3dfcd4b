import json
import os
import uuid

import pytest

from ckanext.dcor_depot import naming, transfer_plan

RID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def test_contract_layout():
    assert naming.resource_path("/s", RID) == \
        "/s/resources/0a1/b2c/3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    assert naming.object_key("condensed", RID) == \
        "condensed/0a1/b2c/3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    pid = "f00dbeef-0000-4000-8000-000000000000"
    assert naming.user_depot_path("/d", "users-host", "alice", "lab", pid,
                                  "ds", RID, "a.rtdc") == \
        f"/d/users-host/alice-lab/f0/0d/ds_{RID}_a.rtdc"
    assert naming.bucket_name("circle-{organization_id}", "ab-12") == \
        "circle-ab-12"


@pytest.mark.parametrize("hostile", [
    "../../etc/passwd", "/etc/passwd", "a\x00b", ".hidden",
    "new\nline", "back\\slash", "x" * 1000, "ümlaut" * 100])
def test_safe_name_stays_in_folder(hostile, tmp_path):
    name = naming.safe_name(hostile)
    assert "/" not in name and "\x00" not in name and "\\" not in name
    assert not name.startswith(".")
    assert len(name.encode()) <= naming.MAX_NAME_BYTES
    path = os.path.realpath(tmp_path / name)
    assert os.path.dirname(path) == os.path.realpath(tmp_path)


@pytest.mark.parametrize("empty", ["", "..", "...", "/", "\x00\x01", 5])
def test_safe_name_rejects_nothing_usable(empty):
    with pytest.raises(naming.UnsafeNameError):
        naming.safe_name(empty)


def test_bad_ids_and_artifacts():
    with pytest.raises(ValueError):
        naming.resource_path("/s", "../../x")
    with pytest.raises(ValueError):
        naming.object_key("thumbnail", RID)
    with pytest.raises(ValueError):
        naming.bucket_name("{organization_id}", "UPPER_case")


def test_policy_document():
    policy = json.loads(naming.public_read_policy("circle-x"))
    statement, = policy["Statement"]
    assert statement["Action"] == ["s3:GetObject"]
    # artifacts only: a staging upload is never anonymously readable
    assert statement["Resource"] == ["arn:aws:s3:::circle-x/resource/*",
                                     "arn:aws:s3:::circle-x/condensed/*",
                                     "arn:aws:s3:::circle-x/preview/*"]
    assert statement["Condition"] == {
        "StringEquals": {"s3:ExistingObjectTag/public": "true"}}


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


@pytest.mark.parametrize("key,parsed", [
    (f"resource/{RID[:3]}/{RID[3:6]}/{RID[6:]}", ("resource", RID)),
    (f"preview/{RID[:3]}/{RID[3:6]}/{RID[6:]}", ("preview", RID)),
    (f"staging/{RID[:3]}/{RID[3:6]}/{RID[6:]}", None),
    (f"resource/{RID[:3]}/{RID[3:6]}/{RID[6:]}/x", None),
    (f"resource/{RID[:2]}/{RID[2:6]}/{RID[6:]}", None),
    ("resource/abc/def/not-a-uuid-at-all-000000000000000000", None),
    ("k", None),
])
def test_parse_object_key(key, parsed):
    assert naming.parse_object_key(key) == parsed


def test_bucket_pattern():
    pattern = naming.bucket_pattern("t1-circle-{organization_id}")
    match = pattern.match("t1-circle-" + RID)
    assert match and match["organization_id"] == RID
    assert not pattern.match("t2-circle-" + RID)
    assert not pattern.match("t1-circle-" + RID + "x")


def test_staging_key_is_not_an_artifact():
    key = naming.staging_key(RID)
    assert key.startswith("staging/") and naming.parse_object_key(key) is None


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


def test_our_object_keys_and_others():
    for artifact in naming.ARTIFACTS:
        key = naming.object_key(artifact, RID)
        assert naming.parse_object_key(key) == (artifact, RID)
    for key in ["notes.txt", "resource/abc", f"thumbnail/{RID[:3]}/"
                f"{RID[3:6]}/{RID[6:]}", "resource/0A1/B2C/3D-4E5F-4A6B-8C7D-"
                "9E0F1A2B3C4D", f"resource/{RID[:3]}/{RID[3:]}",
                f"resource/{RID[:2]}/{RID[2:6]}/{RID[6:]}",
                f"resource/{RID[:3]}/{RID[3:6]}/{RID[6:]}/x"]:
        assert naming.parse_object_key(key) is None, key
    key = naming.object_key("resource", RID)
    url = naming.object_url("http://s3.example:7480/prefix", "circle-x", key)
    assert naming.parse_object_url(url) == ("circle-x", key)
    assert naming.parse_object_url("") is None
    assert naming.parse_object_url("http://h/b/notes.txt") is None


def test_uuids_and_temp_copies_in_names():
    other = str(uuid.uuid4())
    assert naming.uuids_in_name(f"run-{other}_{RID}_{other}.rtdc") == \
        [other, RID, other]
    assert naming.uuids_in_name("cells.rtdc") == []
    assert naming.is_temp_copy_name(f".ds_{RID}_a.rtdc.part-0123456789ab")
    for name in (f"ds_{RID}_a.rtdc", ".a.rtdc.part", ".a.part-xyz",
                 ".a.rtdc.link-0123456789ab"):
        assert not naming.is_temp_copy_name(name), name


def test_smallest_safe_prune_age():
    from ckanext.dcor_depot.workflows.stale_uploads import \
        smallest_safe_age_days

    day = 24 * 3600
    assert smallest_safe_age_days(3600, 21600) == 1
    assert smallest_safe_age_days(day, 60) == 2  # must exceed, not equal
    assert smallest_safe_age_days(60, 3 * day + 1) == 4
