"""Verified uploads of local files: one read per file, parts in parallel,
an existing object with the same bytes is not sent again."""
from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import hashlib
import logging
import os
import queue
import threading
from typing import Any, Callable

from ... import transfer_plan
from .. import digest, direct_read
from .objects import (SHA256_TAG, abort_multipart_uploads, object_head,
                      object_sha256, object_tags)

log = logging.getLogger(__name__)


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
    crc32: int | None = None  # where this call read the bytes


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
    local = digest.digest_file(path, crc32=True, part_sizes=(part_size,))
    local_sha, local_etag = local.sha256, local.etag()
    if remote_sha:
        if remote_sha != local_sha:
            raise ObjectConflict(
                f"s3://{bucket}/{key} exists with sha256 {remote_sha}, "
                f"the local file has {local_sha}")
        return StoredObject(bucket, key, size, remote_sha, remote_etag,
                            uploaded=False, crc32=local.crc32)
    # A crash between completing the upload and tagging it: the ETag (md5
    # of the parts) proves the object holds the local bytes. The caller
    # writes the missing sha256 tag.
    if remote_etag != local_etag:
        raise ObjectConflict(
            f"s3://{bucket}/{key} exists without sha256 and its ETag "
            f"{head['ETag']} does not match the local file ({local_etag})")
    return StoredObject(bucket, key, size, local_sha, remote_etag,
                        uploaded=False, crc32=local.crc32)


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
        sent, etag = _upload_multipart(client, path, bucket, key, size,
                                       part_size, max_concurrency, progress)
    else:
        sent, etag = _upload_single(client, path, bucket, key, size,
                                    progress)
    head = object_head(client, bucket, key)
    if head is None or head["ContentLength"] != size \
            or head["ETag"].strip('"') != etag:
        raise UploadVerificationError(
            f"s3://{bucket}/{key} after upload: "
            f"{head and head['ContentLength']} bytes, ETag "
            f"{head and head['ETag']}; sent {size} bytes, ETag {etag}")
    return StoredObject(bucket, key, size, sent.sha256, etag, uploaded=True,
                        crc32=sent.crc32)


def _check_etag(response: dict, md5_hex: str, where: str) -> None:
    if response["ETag"].strip('"') != md5_hex:
        raise UploadVerificationError(
            f"{where}: server ETag {response['ETag']} is not the md5 "
            f"{md5_hex} of what was sent")


def _upload_single(client: Any, path: str, bucket: str, key: str, size: int,
                   progress: Callable[[int], None] | None
                   ) -> tuple[digest.Digests, str]:
    with open(path, "rb") as handle:
        body = handle.read(size + 1)
    if len(body) != size:
        raise UploadVerificationError(f"{path} changed size while reading")
    digester = digest.Digester(crc32=True)
    digester.update(body)
    digests = digester.result()
    sha256 = digests.sha256
    md5 = hashlib.md5(body, usedforsecurity=False)
    response = client.put_object(
        Bucket=bucket, Key=key, Body=body,
        ContentMD5=base64.b64encode(md5.digest()).decode(),
        Metadata={SHA256_TAG: sha256},
        Tagging=f"{SHA256_TAG}={sha256}")
    _check_etag(response, md5.hexdigest(), f"s3://{bucket}/{key}")
    if progress:
        progress(size)
    return digests, md5.hexdigest()


def _upload_multipart(client: Any, path: str, bucket: str, key: str,
                      size: int, part_size: int, max_concurrency: int,
                      progress: Callable[[int], None] | None
                      ) -> tuple[digest.Digests, str]:
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)[
        "UploadId"]
    # sha256 and CRC-32 in the reading thread (in order); md5 per part in
    # the sending threads (in parallel)
    sha = digest.Digester(crc32=True)
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
    return sha.result(), transfer_plan.multipart_etag(
        [md5 for _, md5 in results])


@dataclasses.dataclass(frozen=True)
class ByteCheck:
    """An object compared with a local file, byte for byte, in this run."""
    local_size: int
    local_sha256: str
    matches: bool
    how: str  # "etag", "download" or "size"
    etag: str  # the object's, as S3 reports it
    crc32: int | None = None  # of the local file


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
    local = digest.digest_file(path, crc32=True, part_sizes=(part_size,))
    size, sha256, etag = local.size, local.sha256, local.etag()
    remote_etag = head["ETag"].strip('"')
    if head["ContentLength"] != size:
        return ByteCheck(size, sha256, False, "size", remote_etag, local.crc32)
    if not download and remote_etag == etag:
        return ByteCheck(size, sha256, True, "etag", remote_etag, local.crc32)
    return ByteCheck(size, sha256,
                     object_sha256(client, bucket, key) == sha256, "download",
                     remote_etag, local.crc32)
