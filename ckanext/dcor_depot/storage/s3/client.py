"""The S3 client of this site, its buckets, and what their errors mean."""
from __future__ import annotations

import functools
import logging
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from ... import naming

log = logging.getLogger(__name__)


class S3NotConfigured(RuntimeError):
    """S3 work was asked for while the object store keys are unset."""


class S3Unreachable(RuntimeError):
    """The object store does not answer or refuses the credentials."""


def _unsigned_payload(request, **kwargs) -> None:
    """Skip botocore's sha256 of every part body on plain-http endpoints;
    Content-MD5 (checked by the server) already covers the bytes, as
    botocore itself does on https. Not on presigned URLs: there the header
    would be signed, and a browser that sends only Content-MD5 refused."""
    if request.context.get("is_presign_request"):
        return
    if "Content-MD5" in request.headers:
        request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"


@functools.lru_cache(maxsize=8)
def client_for(endpoint_url: str, access_key_id: str,
               secret_access_key: str, ssl_verify: bool, region: str,
               max_attempts: int, max_pool: int) -> Any:
    """The client for these settings; one per settings and process."""
    client = _new_client(endpoint_url, access_key_id, secret_access_key,
                         ssl_verify, region, max_attempts, max_pool)
    for operation in ("UploadPart", "PutObject"):
        client.meta.events.register(f"before-sign.s3.{operation}",
                                    _unsigned_payload)
    return client


def _new_client(endpoint_url: str, access_key_id: str,
                secret_access_key: str, ssl_verify: bool, region: str,
                max_attempts: int, max_pool: int) -> Any:
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
            # Content-MD5 per part is our integrity check; the default CRC32
            # trailer measured slower next to it (bench/bench_upload.py)
            request_checksum_calculation="when_required",
            # upload parts are memoryviews of reused buffers, which
            # botocore's validation refuses but sends without a copy
            parameter_validation=False,
            response_checksum_validation="when_required",
            max_pool_connections=max_pool,
            connect_timeout=10,
            read_timeout=120,
        ))


def get_client() -> Any:
    """The configured S3 client; one per settings and process."""
    # imported here so this module works without a CKAN config
    from ... import config as dcor_config

    if not dcor_config.s3_enabled():
        raise S3NotConfigured(
            "the object store is not configured "
            f"({dcor_config.S3_ENDPOINT_URL}, {dcor_config.S3_ACCESS_KEY_ID}, "
            f"{dcor_config.S3_SECRET_ACCESS_KEY})")
    return client_for(dcor_config.s3_endpoint_url(),
                   dcor_config.s3_access_key_id(),
                   dcor_config.s3_secret_access_key(),
                   dcor_config.s3_ssl_verify(),
                   dcor_config.s3_region_name(),
                   dcor_config.s3_max_attempts(),
                   max(10, 2 * dcor_config.s3_max_concurrency()))


def bucket_for_circle(organization_id: str) -> str:
    from ... import config as dcor_config

    return naming.bucket_name(dcor_config.s3_bucket_name_template(),
                              organization_id)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def check_reachable(client: Any) -> None:
    """Raise S3Unreachable unless the server answers an authenticated call."""
    try:
        client.list_buckets()
    except (botocore.exceptions.BotoCoreError,
            botocore.exceptions.ClientError) as exc:
        raise S3Unreachable(f"object store unreachable: {exc}") from None


def bucket_names(client: Any) -> list[str]:
    return [bucket["Name"] for bucket in client.list_buckets()["Buckets"]]


def ensure_bucket(client: Any, bucket: str) -> None:
    """Create `bucket` if it is missing and (re)apply the public-read policy
    and the CORS rules of the site's browser uploader."""
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
    site_url = _site_url()
    if site_url:
        client.put_bucket_cors(Bucket=bucket, CORSConfiguration=(
            naming.upload_cors_rules(naming.site_origin(site_url))))


def _site_url() -> str:
    # imported here so this module works without a CKAN config
    import ckan.plugins.toolkit as tk

    return tk.config.get("ckan.site_url") or ""
