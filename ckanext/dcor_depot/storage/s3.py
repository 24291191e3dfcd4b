"""I/O with the S3-compatible object store."""
from __future__ import annotations

import functools
import logging
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from .. import config as dcor_config
from .. import naming

log = logging.getLogger(__name__)

PUBLIC_TAG = {"Key": "public", "Value": "true"}


class S3NotConfigured(RuntimeError):
    """S3 work was asked for while the object store keys are unset."""


@functools.lru_cache(maxsize=8)
def _client(endpoint_url: str, access_key_id: str, secret_access_key: str,
            ssl_verify: bool, region: str, max_attempts: int,
            max_pool: int) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=region,
        verify=ssl_verify,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            # "standard" retries connection errors, 5xx, 429 and throttling
            # with exponential back-off.
            retries={"max_attempts": max_attempts, "mode": "standard"},
            max_pool_connections=max_pool,
            connect_timeout=10,
            read_timeout=120,
        ))


def get_client() -> Any:
    """The configured S3 client; one per settings and process."""
    if not dcor_config.s3_enabled():
        raise S3NotConfigured(
            "the object store is not configured "
            f"({dcor_config.S3_ENDPOINT_URL}, {dcor_config.S3_ACCESS_KEY_ID}, "
            f"{dcor_config.S3_SECRET_ACCESS_KEY})")
    return _client(dcor_config.s3_endpoint_url(),
                   dcor_config.s3_access_key_id(),
                   dcor_config.s3_secret_access_key(),
                   dcor_config.s3_ssl_verify(),
                   dcor_config.s3_region_name(),
                   dcor_config.s3_max_attempts(),
                   max(10, 2 * dcor_config.s3_max_concurrency()))


def bucket_for_circle(organization_id: str) -> str:
    return naming.bucket_name(dcor_config.s3_bucket_name_template(),
                              organization_id)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def ensure_bucket(client: Any, bucket: str) -> None:
    """Create `bucket` if it is missing and (re)apply the public-read policy."""
    try:
        client.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        try:
            client.create_bucket(Bucket=bucket)
            log.info("created bucket %s", bucket)
        except botocore.exceptions.ClientError as create_exc:
            # another worker won the race
            if error_code(create_exc) not in ("BucketAlreadyOwnedByYou",
                                              "BucketAlreadyExists"):
                raise
    client.put_bucket_policy(Bucket=bucket,
                             Policy=naming.public_read_policy(bucket))


def object_head(client: Any, bucket: str, key: str) -> dict | None:
    """HEAD of an object, or None if it does not exist."""
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
            return None
        raise


def is_public(client: Any, bucket: str, key: str) -> bool:
    tags = client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return PUBLIC_TAG in tags


def set_public(client: Any, bucket: str, key: str, public: bool) -> bool:
    """Tag or untag an object as public. Returns True if something changed.

    Other tags on the object are kept.
    """
    tags = client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    others = [t for t in tags if t["Key"] != PUBLIC_TAG["Key"]]
    wanted = others + [PUBLIC_TAG] if public else others
    if {(t["Key"], t["Value"]) for t in tags} == \
            {(t["Key"], t["Value"]) for t in wanted}:
        return False
    if wanted:
        client.put_object_tagging(Bucket=bucket, Key=key,
                                  Tagging={"TagSet": wanted})
    else:
        client.delete_object_tagging(Bucket=bucket, Key=key)
    return True
