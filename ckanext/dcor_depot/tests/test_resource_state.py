"""The rules about a resource's state, table-driven (resource_state.py is
the one place that decides them)."""
import pytest

from ckanext.dcor_depot import resource_state as rs
from ckanext.dcor_depot.resource_state import LocalFacts, Step

LINKED = LocalFacts(is_symlink=True, exists=True)
REGULAR = LocalFacts(is_symlink=False, exists=True)
NOTHING = LocalFacts(is_symlink=False, exists=False)
STORED = {"s3_available": True, "s3_url": "http://s3/b/k",
          "sha256": "a" * 64, "etag": "e", "crc32": 7}


@pytest.mark.parametrize("resource,local,s3_enabled,steps", [
    # uploads through CKAN
    ({"url_type": "upload"}, REGULAR, True, [Step.DEPOT_MOVE, Step.S3_UPLOAD]),
    ({"url_type": "upload"}, REGULAR, False, [Step.DEPOT_MOVE]),
    ({"url_type": "upload"}, LINKED, True, [Step.S3_UPLOAD]),
    ({"url_type": "upload", **STORED}, LINKED, True, []),
    ({"url_type": "upload", **STORED, "etag": None}, LINKED, True,
     [Step.S3_UPLOAD]),  # stored before etag was kept
    ({"url_type": "upload", **STORED}, REGULAR, True, [Step.DEPOT_MOVE]),
    # migrated with --delete-after-migration: S3 holds the only copy
    ({"url_type": "upload", **STORED}, NOTHING, True, []),
    ({"url_type": "upload"}, NOTHING, True, [Step.DEPOT_MOVE, Step.S3_UPLOAD]),
    # direct uploads
    ({"url_type": "s3_upload", "s3_available": True}, NOTHING, True,
     [Step.BACKUP]),
    ({"url_type": "s3_upload", "s3_available": True}, LINKED, True,
     [Step.BACKUP]),  # linked, but sha256 not saved yet
    ({"url_type": "s3_upload", **STORED}, LINKED, True, []),
    ({"url_type": "s3_upload", **STORED}, NOTHING, False, []),
    # stored before CRC-32 was kept: one more read gives it
    ({"url_type": "upload", **STORED, "crc32": None}, LINKED, True,
     [Step.CHECKSUMS]),
    ({"url_type": "s3_upload", **STORED, "crc32": None}, LINKED, True,
     [Step.CHECKSUMS]),
    # no object store: the checksums come from the local file
    ({"url_type": "upload"}, LINKED, False, [Step.CHECKSUMS]),
    ({"url_type": "upload", "sha256": "a" * 64, "crc32": 0}, LINKED, False,
     []),
    # links are not the depot's
    ({"url_type": "", "url": "https://example.org"}, NOTHING, True, []),
    ({"url_type": None}, NOTHING, True, []),
])
def test_steps_needed(resource, local, s3_enabled, steps):
    assert rs.steps_needed(resource, local, s3_enabled) == steps


@pytest.mark.parametrize("dataset,public", [
    ({"private": False, "state": "active"}, True),
    ({"private": True, "state": "active"}, False),
    ({"private": False, "state": "draft"}, False),
    ({"private": False, "state": "deleted"}, False),
    ({}, False),
    (None, False),
])
def test_dataset_is_public(dataset, public):
    assert rs.dataset_is_public(dataset) is public


HERE = ("circle-a", "resource/abc/def/x")
ELSEWHERE = ("circle-b", "resource/abc/def/x")
PUBLIC = {"private": False, "state": "active"}


@pytest.mark.parametrize("dataset,resource,location,current,public", [
    (PUBLIC, {"state": "active"}, HERE, HERE, True),
    (PUBLIC, {"state": "deleted"}, HERE, HERE, False),
    (PUBLIC, None, HERE, HERE, False),
    ({"private": True, "state": "active"}, {"state": "active"}, HERE, HERE,
     False),
    # a copy left in another circle's bucket
    (PUBLIC, {"state": "active"}, ELSEWHERE, HERE, False),
    (PUBLIC, {"state": "active"}, HERE, None, False),
    (None, {"state": "active"}, HERE, HERE, False),
])
def test_object_should_be_public(dataset, resource, location, current,
                                 public):
    assert rs.object_should_be_public(dataset, resource, location,
                                      current) is public


def test_s3_fields_and_changes():
    fields = rs.s3_fields("http://s3/b/k", 10, "a" * 64, "e", crc32=7)
    assert fields == {"s3_available": True, "s3_url": "http://s3/b/k",
                      "size": 10, "sha256": "a" * 64, "etag": "e",
                      "crc32": 7}
    assert rs.s3_fields("u", 0, "s", None) == {
        "s3_available": True, "s3_url": "u", "size": 0, "sha256": "s"}
    assert rs.fields_to_change({**fields, "name": "x"}, fields) == {}
    assert rs.fields_to_change({**fields, "size": 9}, fields) == {"size": 10}


@pytest.mark.parametrize("resource,local,gone", [
    ({"s3_available": True}, NOTHING, True),
    ({"s3_available": True}, REGULAR, False),
    ({}, NOTHING, False),
])
def test_deleted_locally(resource, local, gone):
    assert rs.deleted_locally(resource, local) is gone


def test_in_object_store_needs_every_field():
    assert rs.in_object_store(STORED)
    for field in ("s3_available", "s3_url", "sha256", "etag"):
        assert not rs.in_object_store({**STORED, field: None}), field
