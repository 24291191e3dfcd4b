"""--delete-after-migration and --verify-checksum act only on bytes verified
in this run against a reference sha256 (item 3 of the safety issue)."""
import hashlib
import os

import pytest

import ckan.plugins.toolkit as tk

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.cli import migrate as migrate_cli

from ..conftest import circle_bucket
from ..helpers import (make_circle_and_user, upload_resource,
                      upload_resource_file, write_random_file)

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "dcor_depot"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]

# what the site's own jobs pass: they may set sha256
JOB_CONTEXT = {"ignore_auth": True, "is_background_job": True,
               "dcor_depot_internal": True}


def migrate(cli, *args):
    return cli.invoke(migrate_cli.migrate_resources, list(args))


def legacy_resource(app, data, sha256=None):
    """An upload no job handled: a plain file at CKAN's path, no S3 fields;
    `sha256` is recorded on the resource when given."""
    user, circle, dataset, token = make_circle_and_user()
    resource = upload_resource(app, token, dataset["id"], data)
    if sha256:
        tk.get_action("resource_patch")(JOB_CONTEXT, {
            "id": resource["id"], "sha256": sha256})
    path = naming.resource_path(tk.config["ckan.storage_path"],
                                resource["id"])
    return {"id": resource["id"], "path": path,
            "bucket": circle_bucket(circle["id"]),
            "key": naming.object_key("resource", resource["id"])}


def shown(rid):
    return tk.get_action("resource_show")({"ignore_auth": True}, {"id": rid})


def body(s3_client, bucket, key):
    return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_tag_and_size_alone_do_not_allow_deleting(cli, app, s3_client):
    data = os.urandom(4000)
    sha256 = hashlib.sha256(data).hexdigest()
    legacy = legacy_resource(app, data, sha256)
    # an object of the same size, tagged with the right sha256, whose
    # bytes are something else
    s3_client.create_bucket(Bucket=legacy["bucket"])
    s3_client.put_object(Bucket=legacy["bucket"], Key=legacy["key"],
                         Body=os.urandom(4000), Tagging=f"sha256={sha256}")
    result = migrate(cli, "--delete-after-migration")
    assert os.path.isfile(legacy["path"]), result.output
    assert result.exit_code == 1
    assert f"{legacy['id']}: failed" in result.output
    assert "0 local files deleted" in result.output


def test_local_file_must_match_the_recorded_sha256(cli, app, s3_client):
    data = os.urandom(4000)
    sha256 = hashlib.sha256(data).hexdigest()
    legacy = legacy_resource(app, data, sha256)
    with open(legacy["path"], "r+b") as handle:  # bit rot
        handle.write(b"\0")
    result = migrate(cli, "--delete-after-migration")
    assert os.path.isfile(legacy["path"]), result.output
    assert result.exit_code == 1
    assert "the resource says " + sha256 in result.output
    after = shown(legacy["id"])
    assert after["sha256"] == sha256 and not after.get("s3_available")


def test_verify_checksum_keeps_objects_without_a_reference(cli, app,
                                                          s3_client):
    legacy = legacy_resource(app, os.urandom(3000))
    condensed = legacy["path"] + "_condensed.rtdc"
    with open(condensed, "wb") as handle:
        handle.write(b"condensed")
    assert migrate(cli).exit_code == 0
    condensed_key = naming.object_key("condensed", legacy["id"])
    with open(condensed, "wb") as handle:  # the local copy rots
        handle.write(b"condenseX")
    result = migrate(cli, "--verify-checksum", "--delete-after-migration")
    assert result.exit_code == 1, result.output
    assert body(s3_client, legacy["bucket"], condensed_key) == b"condensed"
    assert "condensed" in result.output and "not replaced" in result.output
    assert os.path.isfile(condensed)


def test_verify_checksum_needs_the_resource_sha256(cli, app, s3_client):
    data = os.urandom(3000)
    legacy = legacy_resource(app, data)  # no sha256 recorded
    good = os.urandom(3000)  # e.g. copied by another tool
    s3_client.create_bucket(Bucket=legacy["bucket"])
    s3_client.put_object(Bucket=legacy["bucket"], Key=legacy["key"],
                         Body=good)
    result = migrate(cli, "--verify-checksum")
    assert result.exit_code == 1, result.output
    assert body(s3_client, legacy["bucket"], legacy["key"]) == good
    assert "not replaced" in result.output


def test_existing_object_is_verified_by_its_bytes(cli, app, s3_client,
                                                  tmp_path):
    """A later run deletes the local copy of a migrated resource once the
    object's bytes match: by ETag, or by download when the object was
    uploaded with another part size."""
    user, circle, dataset, token = make_circle_and_user()
    source = tmp_path / "cells.rtdc"
    sha256 = write_random_file(source, 12 * 1024**2 + 3)
    resource = upload_resource_file(app, token, dataset["id"], source)
    small = upload_resource(app, token, dataset["id"], b"small" * 100,
                            name="small.rtdc")
    assert migrate(cli).exit_code == 0
    bucket = circle_bucket(circle["id"])
    key = naming.object_key("resource", resource["id"])
    # re-upload the same bytes in 5 MiB parts: the ETag differs from ours
    part = 5 * 1024**2
    upload = s3_client.create_multipart_upload(Bucket=bucket, Key=key)
    parts = []
    with open(source, "rb") as handle:
        for number in range(1, 4):
            sent = s3_client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload["UploadId"],
                PartNumber=number, Body=handle.read(part))
            parts.append({"PartNumber": number, "ETag": sent["ETag"]})
    s3_client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts})
    s3_client.put_object_tagging(Bucket=bucket, Key=key, Tagging={
        "TagSet": [{"Key": "sha256", "Value": sha256}]})
    paths = [naming.resource_path(tk.config["ckan.storage_path"], r["id"])
             for r in (resource, small)]
    result = migrate(cli, "--delete-after-migration")
    assert result.exit_code == 0, result.output
    assert "2 local files deleted" in result.output
    assert not any(os.path.exists(p) for p in paths)
    assert file_sha256_of_object(s3_client, bucket, key) == sha256


def file_sha256_of_object(s3_client, bucket, key):
    digest = hashlib.sha256()
    for chunk in s3_client.get_object(Bucket=bucket, Key=key)[
            "Body"].iter_chunks(1024**2):
        digest.update(chunk)
    return digest.hexdigest()
