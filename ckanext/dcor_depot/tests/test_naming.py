import json
import os
import uuid

import pytest

from ckanext.dcor_depot import naming

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


# unique_names: safe, unique, deterministic file names
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


# issue 23, items 4 and 6: names the site and the client agree on

@pytest.mark.parametrize("name, safe", [
    # no line or paragraph separator of any kind (str.splitlines and
    # manifest readers split on them), no control, no zero-width character
    ("a\u2028b.txt", "a_b.txt"), ("a\u2029b.txt", "a_b.txt"),
    ("a\u0085b.txt", "a_b.txt"), ("a\nb\rc\x0b\x0c\x1c.txt", "a_b_c___.txt"),
    ("a\tb.txt", "a_b.txt"), ("zero\u200bwidth.txt", "zero_width.txt"),
    # NFD as macOS writes it becomes NFC; trailing spaces go
    ("cafe\u0301.txt", "caf\u00e9.txt"), ("trailing.txt  ", "trailing.txt"),
    # leading dots and spaces go, however they are mixed: never hidden
    (". .a", "a"), (" . . hidden.txt", "hidden.txt"),
])
def test_safe_name_breaks_no_line(name, safe):
    assert naming.safe_name(name) == safe


@pytest.mark.parametrize("name", [
    "cafe\u0301.txt", "trailing.txt \u00a0", ". .a", "a\u2028b",
    "\u00e9" * 150, "x" * 199 + "\u00e9" + "y" * 10,
    "e" + "\u0301" * 120, ". " * 150 + "z", "\u1100\u1161" * 60,
    "a" * 198 + " b", "ok.rtdc"])
def test_safe_name_of_a_safe_name_is_itself(name):
    """The client names files with safe_name and the site applies it
    again: both must give one name."""
    once = naming.safe_name(name)
    assert naming.safe_name(once) == once
    assert len(once.encode()) <= naming.MAX_NAME_BYTES


def test_first_line_break():
    assert naming.first_line_break("fine name \u200b.txt") is None
    for char in "\t\n\r\x00\x1f\x7f\x85\u2028\u2029":
        assert naming.first_line_break(f"a{char}b") == char


def test_folded_names_are_one_file_on_macos_and_windows():
    assert naming.folded("Data.TXT") == naming.folded("data.txt")
    assert naming.folded("cafe\u0301") == naming.folded("CAF\u00c9")
    assert naming.folded("a.txt") != naming.folded("b.txt")


@pytest.mark.parametrize("site_url, origin", [
    ("https://dcor.example.org", "https://dcor.example.org"),
    ("https://dcor.example.org/data/", "https://dcor.example.org"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
])
def test_site_origin_is_scheme_host_and_port(site_url, origin):
    assert naming.site_origin(site_url) == origin


def test_upload_cors_rules_allow_the_site_to_put_parts_only():
    [rule] = naming.upload_cors_rules("https://dcor.example.org")["CORSRules"]
    assert rule["AllowedOrigins"] == ["https://dcor.example.org"]
    assert rule["AllowedMethods"] == ["PUT"]
    # the browser must read each part's ETag for complete
    assert rule["ExposeHeaders"] == ["ETag"]
    assert "content-md5" in rule["AllowedHeaders"]
