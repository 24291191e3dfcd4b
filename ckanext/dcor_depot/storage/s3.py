"""I/O with the S3-compatible object store."""
from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import functools
import hashlib
import logging
import os
import queue
import threading
import urllib.parse
from typing import Any, Callable

import boto3
import botocore.exceptions
from botocore.config import Config

from .. import naming, transfer_plan
from . import direct_read

log = logging.getLogger(__name__)

PUBLIC_TAG = {"Key": "public", "Value": "true"}


class S3NotConfigured(RuntimeError):
    """S3 work was asked for while the object store keys are unset."""


def _unsigned_payload(request, **kwargs) -> None:
    """Skip botocore's sha256 of every part body on plain-http endpoints;
    Content-MD5 (checked by the server) already covers the bytes, as
    botocore itself does on https."""
    if "Content-MD5" in request.headers:
        request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"


@functools.lru_cache(maxsize=8)
def _client(endpoint_url: str, access_key_id: str, secret_access_key: str,
            ssl_verify: bool, region: str, max_attempts: int,
            max_pool: int) -> Any:
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
    from .. import config as dcor_config

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
    from .. import config as dcor_config

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


def _tag_set(client: Any, bucket: str, key: str) -> list[dict[str, str]]:
    # radosgw leaves TagSet out of the answer for an object without tags
    return client.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])


def is_public(client: Any, bucket: str, key: str) -> bool:
    return PUBLIC_TAG in _tag_set(client, bucket, key)


def update_tags(client: Any, bucket: str, key: str, *,
                public: bool | None = None,
                sha256: str | None = None) -> bool:
    """Set the public tag (None: leave it) and the sha256 tag (None: leave
    it) of an object, keeping its other tags. Returns True if the tags
    changed. A read-modify-write: callers hold the dataset's tags lock."""
    tags = _tag_set(client, bucket, key)
    wanted = {t["Key"]: t["Value"] for t in tags}
    if sha256 is not None:
        wanted[SHA256_TAG] = sha256
    if public is True:
        wanted[PUBLIC_TAG["Key"]] = PUBLIC_TAG["Value"]
    elif public is False:
        wanted.pop(PUBLIC_TAG["Key"], None)
    if {(t["Key"], t["Value"]) for t in tags} == set(wanted.items()):
        return False
    if wanted:
        client.put_object_tagging(Bucket=bucket, Key=key, Tagging={
            "TagSet": [{"Key": k, "Value": v} for k, v in wanted.items()]})
    else:
        client.delete_object_tagging(Bucket=bucket, Key=key)
    return True


# Uploads

SHA256_TAG = "sha256"


class ObjectConflict(RuntimeError):
    """An object exists at the key with other bytes than the local file."""


class UploadVerificationError(RuntimeError):
    """The server's account of an upload does not match what was sent."""


@dataclasses.dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    size: int
    sha256: str
    etag: str  # as S3 reports it, without quotes
    uploaded: bool  # False: the object was already there and verified


def object_tags(client: Any, bucket: str, key: str) -> dict[str, str]:
    tags = _tag_set(client, bucket, key)
    return {t["Key"]: t["Value"] for t in tags}


def abort_multipart_uploads(client: Any, bucket: str, key: str) -> int:
    """Abort open multipart uploads of one key (left by a killed job)."""
    aborted = 0
    pages = client.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, Prefix=key)
    for page in pages:
        for upload in page.get("Uploads", []):
            if upload["Key"] == key:
                client.abort_multipart_upload(Bucket=bucket, Key=key,
                                              UploadId=upload["UploadId"])
                aborted += 1
    return aborted


def _local_digests(path: str, part_size: int) -> tuple[int, str, str]:
    """Size, sha256 and the S3 ETag the file would get, in one read."""
    sha = hashlib.sha256()
    md5s = []
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(part_size):
            sha.update(chunk)
            md5s.append(hashlib.md5(chunk, usedforsecurity=False).digest())
            size += len(chunk)
    if len(md5s) <= 1:
        etag = (md5s[0] if md5s else hashlib.md5(b"").digest()).hex()
    else:
        etag = transfer_plan.multipart_etag(md5s)
    return size, sha.hexdigest(), etag


def _existing_object(client: Any, bucket: str, key: str, path: str,
                     size: int, known_sha256: str | None, part_size: int
                     ) -> StoredObject | None:
    """The verified existing object, None if there is none, else raise."""
    head = object_head(client, bucket, key)
    if head is None:
        return None
    remote_sha = object_tags(client, bucket, key).get(SHA256_TAG)
    if head["ContentLength"] != size:
        raise ObjectConflict(
            f"s3://{bucket}/{key} exists with {head['ContentLength']} bytes, "
            f"the local file has {size}")
    remote_etag = head["ETag"].strip('"')
    if remote_sha and known_sha256 and remote_sha == known_sha256:
        return StoredObject(bucket, key, size, remote_sha, remote_etag,
                            uploaded=False)
    _, local_sha, local_etag = _local_digests(path, part_size)
    if remote_sha:
        if remote_sha != local_sha:
            raise ObjectConflict(
                f"s3://{bucket}/{key} exists with sha256 {remote_sha}, "
                f"the local file has {local_sha}")
        return StoredObject(bucket, key, size, remote_sha, remote_etag,
                            uploaded=False)
    # A crash between completing the upload and tagging it: the ETag (md5
    # of the parts) proves the object holds the local bytes. The caller
    # writes the missing sha256 tag.
    if remote_etag != local_etag:
        raise ObjectConflict(
            f"s3://{bucket}/{key} exists without sha256 and its ETag "
            f"{head['ETag']} does not match the local file ({local_etag})")
    return StoredObject(bucket, key, size, local_sha, remote_etag,
                        uploaded=False)


def upload_file(client: Any, path: str, bucket: str, key: str, *,
                part_size: int, max_concurrency: int,
                known_sha256: str | None = None,
                progress: Callable[[int], None] | None = None,
                replace: bool = False) -> StoredObject:
    """Upload a local file to s3://bucket/key, verified, reading it once.

    sha256 and the per-part MD5 (sent as Content-MD5, so the server rejects
    damaged parts) are computed while the parts go up concurrently. The
    object's ETag and size are checked against what was sent. A single PUT
    creates the object with its "sha256" tag; after a multipart upload the
    caller writes that tag (with the public tag, under the dataset's tags
    lock: tag writes are read-modify-write). An existing object with the same
    bytes is not uploaded again; one with other bytes raises ObjectConflict.
    A failed multipart upload is aborted. `replace` overwrites an existing
    object (known to be damaged); S3 swaps it only once the upload is
    complete.
    """
    size = os.stat(path).st_size
    part_size = transfer_plan.part_size_for(size, part_size)
    if not replace:
        existing = _existing_object(client, bucket, key, path, size,
                                    known_sha256, part_size)
        if existing:
            return existing
    abort_multipart_uploads(client, bucket, key)
    multipart = transfer_plan.is_multipart(size, part_size)
    if multipart:
        sha256, etag = _upload_multipart(client, path, bucket, key, size,
                                         part_size, max_concurrency, progress)
    else:
        sha256, etag = _upload_single(client, path, bucket, key, size,
                                      progress)
    head = object_head(client, bucket, key)
    if head is None or head["ContentLength"] != size \
            or head["ETag"].strip('"') != etag:
        raise UploadVerificationError(
            f"s3://{bucket}/{key} after upload: "
            f"{head and head['ContentLength']} bytes, ETag "
            f"{head and head['ETag']}; sent {size} bytes, ETag {etag}")
    return StoredObject(bucket, key, size, sha256, etag, uploaded=True)


def _check_etag(response: dict, md5_hex: str, where: str) -> None:
    if response["ETag"].strip('"') != md5_hex:
        raise UploadVerificationError(
            f"{where}: server ETag {response['ETag']} is not the md5 "
            f"{md5_hex} of what was sent")


def _upload_single(client: Any, path: str, bucket: str, key: str, size: int,
                   progress: Callable[[int], None] | None) -> tuple[str, str]:
    with open(path, "rb") as handle:
        body = handle.read(size + 1)
    if len(body) != size:
        raise UploadVerificationError(f"{path} changed size while reading")
    sha256 = hashlib.sha256(body).hexdigest()
    md5 = hashlib.md5(body, usedforsecurity=False)
    response = client.put_object(
        Bucket=bucket, Key=key, Body=body,
        ContentMD5=base64.b64encode(md5.digest()).decode(),
        Metadata={SHA256_TAG: sha256},
        Tagging=f"{SHA256_TAG}={sha256}")
    _check_etag(response, md5.hexdigest(), f"s3://{bucket}/{key}")
    if progress:
        progress(size)
    return sha256, md5.hexdigest()


def _upload_multipart(client: Any, path: str, bucket: str, key: str,
                      size: int, part_size: int, max_concurrency: int,
                      progress: Callable[[int], None] | None
                      ) -> tuple[str, str]:
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)[
        "UploadId"]
    sha = hashlib.sha256()
    futures: list[concurrent.futures.Future] = []
    # bounds the parts held in memory: the ones in flight plus one being read
    slots = threading.BoundedSemaphore(max_concurrency)

    # reused page-aligned buffers: O_DIRECT reads need the alignment, and a
    # fresh 8+ MiB object per part costs page faults
    free_buffers: queue.SimpleQueue = queue.SimpleQueue()
    for _ in range(max_concurrency):
        free_buffers.put(direct_read.aligned_buffer(part_size))

    def send(number: int, buffer: Any, length: int) -> tuple[dict, bytes]:
        body = memoryview(buffer)[:length]
        try:
            # MD5 here, in parallel; the reading thread only does sha256
            md5 = hashlib.md5(body, usedforsecurity=False).digest()
            response = client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id,
                PartNumber=number, Body=body,
                ContentMD5=base64.b64encode(md5).decode())
            _check_etag(response, md5.hex(),
                        f"s3://{bucket}/{key} part {number}")
            if progress:
                progress(length)
            return {"PartNumber": number, "ETag": response["ETag"]}, md5
        finally:
            free_buffers.put(buffer)
            slots.release()

    def changed_size() -> UploadVerificationError:
        return UploadVerificationError(f"{path} changed size while reading")

    parts = transfer_plan.part_count(size, part_size)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_concurrency) as pool, \
                direct_read.DirectReader(path) as reader:
            for number in range(1, parts + 1):
                slots.acquire()
                buffer = free_buffers.get()
                with memoryview(buffer) as view:
                    # whole-buffer reads keep O_DIRECT offsets aligned
                    length = reader.read_into(view)
                    if length != min(part_size, size - (number - 1)
                                     * part_size):
                        raise changed_size()
                    sha.update(view[:length])
                futures.append(pool.submit(send, number, buffer, length))
                # fail fast: stop reading once a part has failed
                if any(f.done() and f.exception() for f in futures):
                    break
            results = [f.result() for f in futures]
        if os.stat(path).st_size != size:
            raise changed_size()
        client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [part for part, _ in results]})
    except BaseException:
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key,
                                          UploadId=upload_id)
        except Exception:  # the original error matters more
            log.warning("could not abort multipart upload %s of s3://%s/%s",
                        upload_id, bucket, key)
        raise
    # radosgw leaves the ETag out of the completion response; the HEAD in
    # upload_file checks it, then the sha256 tag is set
    return sha.hexdigest(), transfer_plan.multipart_etag(
        [md5 for _, md5 in results])


# Direct uploads by clients (presigned URLs) and their backup

def presigned_upload(client: Any, bucket: str, key: str,
                     part_sizes: list[int], expires: int) -> dict[str, Any]:
    """Presigned URLs for a client to upload to bucket/key: one PUT, or one
    URL per part plus a URL to complete the upload. Each URL signs its
    Content-Length, so S3 refuses a body of any other size."""
    if len(part_sizes) == 1:
        url = client.generate_presigned_url(
            "put_object", ExpiresIn=expires, Params={
                "Bucket": bucket, "Key": key, "ContentLength": part_sizes[0]})
        return {"upload_urls": [url], "complete_url": None,
                "part_size": part_sizes[0]}
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)[
        "UploadId"]
    urls = [client.generate_presigned_url(
        "upload_part", ExpiresIn=expires,
        Params={"Bucket": bucket, "Key": key, "UploadId": upload_id,
                "PartNumber": number, "ContentLength": size})
        for number, size in enumerate(part_sizes, start=1)]
    complete = client.generate_presigned_url(
        "complete_multipart_upload", ExpiresIn=expires,
        Params={"Bucket": bucket, "Key": key, "UploadId": upload_id})
    return {"upload_urls": urls, "complete_url": complete,
            "part_size": part_sizes[0]}


def copy_object(client: Any, bucket: str, source_key: str, target_bucket: str,
                target_key: str, part_sizes: list[int]) -> str:
    """Copy an object inside the object store (no byte passes through here)
    with the given part layout, and clear the copy's tags. Returns the
    copy's ETag. With the source's own layout the ETag stays the same.

    The tags are cleared because radosgw copies them whatever
    TaggingDirective says, and a copy must not start out public."""
    source = {"Bucket": bucket, "Key": source_key}
    if len(part_sizes) == 1:
        client.copy_object(Bucket=target_bucket, Key=target_key,
                           CopySource=source)
    else:
        upload_id = client.create_multipart_upload(
            Bucket=target_bucket, Key=target_key)["UploadId"]
        try:
            parts, offset = [], 0
            for number, size in enumerate(part_sizes, start=1):
                result = client.upload_part_copy(
                    Bucket=target_bucket, Key=target_key, UploadId=upload_id,
                    PartNumber=number, CopySource=source,
                    CopySourceRange=f"bytes={offset}-{offset + size - 1}")
                parts.append({"PartNumber": number,
                              "ETag": result["CopyPartResult"]["ETag"]})
                offset += size
            client.complete_multipart_upload(
                Bucket=target_bucket, Key=target_key, UploadId=upload_id,
                MultipartUpload={"Parts": parts})
        except BaseException:
            client.abort_multipart_upload(Bucket=target_bucket,
                                          Key=target_key, UploadId=upload_id)
            raise
    client.delete_object_tagging(Bucket=target_bucket, Key=target_key)
    return client.head_object(Bucket=target_bucket,
                              Key=target_key)["ETag"].strip('"')


def delete_object(client: Any, bucket: str, key: str) -> None:
    client.delete_object(Bucket=bucket, Key=key)


def download_to_temp(client: Any, bucket: str, key: str, target: str,
                     part_size: int) -> tuple[str, Any]:
    """Stream an object into a temporary file beside `target`, fsynced.

    sha256, size and the ETag the bytes should have are computed in the
    same pass and checked against the object's size and ETag.
    """
    from . import depot

    response = client.get_object(Bucket=bucket, Key=key)
    size = response["ContentLength"]
    remote_etag = response["ETag"].strip('"')
    temp = depot.temp_path(os.path.dirname(target), os.path.basename(target))
    sha = hashlib.sha256()
    md5s: list[bytes] = []
    part_md5 = hashlib.md5(usedforsecurity=False)
    in_part = 0
    written = 0
    try:
        with open(temp, "xb") as handle:
            for chunk in response["Body"].iter_chunks(1024**2):
                sha.update(chunk)
                handle.write(chunk)
                written += len(chunk)
                view = memoryview(chunk)
                while view:
                    take = min(len(view), part_size - in_part)
                    part_md5.update(view[:take])
                    in_part += take
                    view = view[take:]
                    if in_part == part_size:
                        md5s.append(part_md5.digest())
                        part_md5 = hashlib.md5(usedforsecurity=False)
                        in_part = 0
            handle.flush()
            os.fsync(handle.fileno())
        if in_part or not md5s:
            md5s.append(part_md5.digest())
        if written != size:
            raise UploadVerificationError(
                f"s3://{bucket}/{key}: got {written} of {size} bytes")
        if "-" in remote_etag:
            count = int(remote_etag.rsplit("-", 1)[1])
            expected = transfer_plan.multipart_etag(md5s)
            if count == len(md5s) and expected != remote_etag:
                raise UploadVerificationError(
                    f"s3://{bucket}/{key}: downloaded bytes give ETag "
                    f"{expected}, the object has {remote_etag}")
            if count != len(md5s):
                log.warning("s3://%s/%s has %d parts, not the planned %d; "
                            "checked by size and sha256 only", bucket, key,
                            count, len(md5s))
        elif len(md5s) == 1 and md5s[0].hex() != remote_etag:
            raise UploadVerificationError(
                f"s3://{bucket}/{key}: downloaded bytes have md5 "
                f"{md5s[0].hex()}, the object's ETag is {remote_etag}")
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    return temp, depot.FileInfo(temp, size, sha.hexdigest())


def open_multipart_uploads(client: Any, bucket: str):
    for page in client.get_paginator("list_multipart_uploads").paginate(
            Bucket=bucket):
        yield from page.get("Uploads", [])


def bucket_names(client: Any) -> list[str]:
    return [bucket["Name"] for bucket in client.list_buckets()["Buckets"]]


def object_pages(client: Any, bucket: str, prefix: str = ""):
    """The objects of a bucket, one listing page (up to 1,000) at a time:
    dicts with Key, Size and LastModified."""
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix)
    for page in pages:
        if page.get("Contents"):
            yield page["Contents"]


def presigned_download_url(client: Any, bucket: str, key: str,
                           filename: str, expires: int) -> str:
    """A GET URL for one object that saves it as `filename`."""
    return client.generate_presigned_url(
        "get_object", ExpiresIn=expires, Params={
            "Bucket": bucket, "Key": key,
            "ResponseContentDisposition": content_disposition(filename)})


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the UTF-8 name (RFC
    6266), so any resource name survives the header."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_"
                       for c in filename)
    return (f'attachment; filename="{fallback}"; '
            f"filename*=UTF-8''{urllib.parse.quote(filename, safe='')}")


# Maintenance: listing, checking and removing objects

class S3Unreachable(RuntimeError):
    """The object store does not answer or refuses the credentials."""


def check_reachable(client: Any) -> None:
    """Raise S3Unreachable unless the server answers an authenticated call."""
    try:
        client.list_buckets()
    except (botocore.exceptions.BotoCoreError,
            botocore.exceptions.ClientError) as exc:
        raise S3Unreachable(f"object store unreachable: {exc}") from None


def iter_objects(client: Any, bucket: str):
    """The objects of a bucket, fetched page by page; none if the bucket
    does not exist."""
    try:
        for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket):
            yield from page.get("Contents", [])
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) != "NoSuchBucket":
            raise


def object_sha256(client: Any, bucket: str, key: str) -> str:
    """sha256 of an object's bytes, by downloading it (only when an
    operator asks for it or an ETag cannot be compared)."""
    digest = hashlib.sha256()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in body.iter_chunks(4 * 1024**2):
        digest.update(chunk)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class ByteCheck:
    """An object compared with a local file, byte for byte, in this run."""
    local_size: int
    local_sha256: str
    matches: bool
    how: str  # "etag", "download" or "size"
    etag: str  # the object's, as S3 reports it


def compare_with_file(client: Any, bucket: str, key: str, path: str,
                      part_size: int, download: bool = False
                      ) -> ByteCheck | None:
    """Whether the object holds the bytes of the local file (None: there is
    no object). The file is read once for its sha256 and the ETag it would
    get; the object is downloaded and hashed only if `download` is asked
    for or its ETag differs (another part size, or an ETag that is no MD5)."""
    head = object_head(client, bucket, key)
    if head is None:
        return None
    part_size = transfer_plan.part_size_for(os.stat(path).st_size, part_size)
    size, sha256, etag = _local_digests(path, part_size)
    remote_etag = head["ETag"].strip('"')
    if head["ContentLength"] != size:
        return ByteCheck(size, sha256, False, "size", remote_etag)
    if not download and remote_etag == etag:
        return ByteCheck(size, sha256, True, "etag", remote_etag)
    return ByteCheck(size, sha256,
                     object_sha256(client, bucket, key) == sha256, "download",
                     remote_etag)


def multipart_uploads_before(client: Any, bucket: str, initiated_before):
    """Open multipart uploads of a bucket started before a time; none if the
    bucket does not exist."""
    try:
        for upload in open_multipart_uploads(client, bucket):
            if upload["Initiated"] < initiated_before:
                yield upload
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) != "NoSuchBucket":
            raise


def abort_multipart_upload(client: Any, bucket: str, key: str,
                           upload_id: str) -> None:
    client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
