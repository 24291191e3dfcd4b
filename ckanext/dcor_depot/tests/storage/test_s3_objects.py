"""Invariant 3 on the real S3 server: private stays private."""
import uuid

import requests

from ckanext.dcor_depot import naming
from ckanext.dcor_depot.storage import s3


def test_policy_allows_anonymous_get_only_of_tagged_objects(
        s3_client, ckan_config):
    bucket = naming.bucket_name(ckan_config["dcor_object_store.bucket_name"],
                                str(uuid.uuid4()))
    s3.ensure_bucket(s3_client, bucket)
    s3.ensure_bucket(s3_client, bucket)  # second call is harmless
    key = naming.object_key("resource", str(uuid.uuid4()))
    s3_client.put_object(Bucket=bucket, Key=key, Body=b"cells")
    url = naming.object_url(ckan_config["dcor_object_store.endpoint_url"],
                            bucket, key)

    assert requests.get(url, timeout=10).status_code == 403
    assert s3.update_tags(s3_client, bucket, key, public=True)
    assert not s3.update_tags(s3_client, bucket, key, public=True)
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.content == b"cells"
    assert s3.is_public(s3_client, bucket, key)
    assert s3.update_tags(s3_client, bucket, key, public=False)
    assert requests.get(url, timeout=10).status_code == 403


def test_untagging_keeps_other_tags(s3_client, ckan_config):
    bucket = naming.bucket_name(ckan_config["dcor_object_store.bucket_name"],
                                str(uuid.uuid4()))
    s3.ensure_bucket(s3_client, bucket)
    s3_client.put_object(Bucket=bucket, Key="k", Body=b"x",
                         Tagging="origin=figshare")
    s3.update_tags(s3_client, bucket, "k", public=True)
    s3.update_tags(s3_client, bucket, "k", public=False)
    tags = s3_client.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]
    assert tags == [{"Key": "origin", "Value": "figshare"}]
