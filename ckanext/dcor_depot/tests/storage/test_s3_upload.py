"""The depot's S3 upload on the real server: odd sizes, and a file that
changes size while it is read."""
import hashlib
import os
import uuid

import pytest

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.storage import s3
from ckanext.dcor_depot.storage.s3 import upload as s3_upload

PART = 5 * 1024**2


@pytest.fixture
def bucket(s3_client, ckan_config):
    name = naming.bucket_name(ckan_config["dcor_object_store.bucket_name"],
                              str(uuid.uuid4()))
    s3.ensure_bucket(s3_client, name)
    return name


@pytest.mark.parametrize("size", [PART + 1, 2 * PART, 3 * PART + 4097])
def test_multipart_sizes(tmp_path, s3_client, bucket, size):
    data = os.urandom(size)
    path = tmp_path / "cells.rtdc"
    path.write_bytes(data)
    client = s3.get_client()
    stored = s3.upload_file(client, str(path), bucket, "k", part_size=PART,
                            max_concurrency=3)
    sha256 = hashlib.sha256(data).hexdigest()
    assert stored.uploaded and stored.sha256 == sha256
    body = s3_client.get_object(Bucket=bucket, Key="k")["Body"].read()
    assert body == data
    # a multipart object gets its sha256 tag from the caller, under the
    # dataset's lock; until then its ETag proves it holds these bytes
    assert "sha256" not in s3.object_tags(s3_client, bucket, "k")
    again = s3.upload_file(client, str(path), bucket, "k", part_size=PART,
                           max_concurrency=3)
    assert not again.uploaded and again.sha256 == sha256
    assert again.etag == stored.etag and stored.etag.endswith(
        f"-{-(-size // PART)}")
    s3.update_tags(client, bucket, "k", sha256=sha256)
    third = s3.upload_file(client, str(path), bucket, "k", part_size=PART,
                           max_concurrency=3, known_sha256=sha256)
    assert not third.uploaded and third.sha256 == sha256


@pytest.mark.parametrize("claimed", [-1, +1, -PART, +PART])
def test_size_change_while_reading_is_refused(tmp_path, s3_client, bucket,
                                              claimed):
    """`claimed` plays a file that grew or shrank after it was measured."""
    size = 3 * PART + 10
    path = tmp_path / "cells.rtdc"
    path.write_bytes(os.urandom(size))
    with pytest.raises(s3.UploadVerificationError, match="changed size"):
        s3_upload._upload_multipart(s3.get_client(), str(path), bucket, "k",
                             size + claimed, PART, 3, None)
    assert not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    assert s3.object_head(s3_client, bucket, "k") is None
