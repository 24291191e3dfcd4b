"""Single objects: existence, tags, listing, copying, deleting, and the
multipart uploads left open on a key."""
from __future__ import annotations

from typing import Any

import botocore.exceptions

from ..digest import CHUNK_SIZE, Digester, Digests
from .client import error_code


PUBLIC_TAG = {"Key": "public", "Value": "true"}


SHA256_TAG = "sha256"


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


def object_tags(client: Any, bucket: str, key: str) -> dict[str, str]:
    tags = _tag_set(client, bucket, key)
    return {t["Key"]: t["Value"] for t in tags}


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


def delete_object(client: Any, bucket: str, key: str) -> None:
    client.delete_object(Bucket=bucket, Key=key)


def object_pages(client: Any, bucket: str, prefix: str = ""):
    """The objects of a bucket, one listing page (up to 1,000) at a time:
    dicts with Key, Size and LastModified."""
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix)
    for page in pages:
        if page.get("Contents"):
            yield page["Contents"]


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


def object_digests(client: Any, bucket: str, key: str,
                   digester: Digester | None = None) -> Digests:
    """Digests of an object's bytes, by streaming it (only when an operator
    asks for it or an ETag cannot be compared)."""
    digester = digester or Digester()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in body.iter_chunks(CHUNK_SIZE):
        digester.update(chunk)
    return digester.result()


def object_sha256(client: Any, bucket: str, key: str) -> str:
    return object_digests(client, bucket, key).sha256


def copy_object(client: Any, bucket: str, source_key: str, target_bucket: str,
                target_key: str, part_sizes: list[int],
                multipart: bool | None = None) -> str:
    """Copy an object inside the object store (no byte passes through here)
    with the given part layout, and clear the copy's tags. Returns the
    copy's ETag. With the source's own layout the ETag stays the same
    (`multipart`: a multipart copy even of one part, whose ETag ends in
    -1; by default only of several parts).

    The tags are cleared because radosgw copies them whatever
    TaggingDirective says, and a copy must not start out public."""
    source = {"Bucket": bucket, "Key": source_key}
    if multipart is None:
        multipart = len(part_sizes) > 1
    if not multipart:
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


def open_multipart_uploads(client: Any, bucket: str):
    for page in client.get_paginator("list_multipart_uploads").paginate(
            Bucket=bucket):
        yield from page.get("Uploads", [])


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


def object_stream(client: Any, bucket: str, key: str, offset: int = 0):
    """An object's bytes from `offset` on, with one streamed GET."""
    params = {"Bucket": bucket, "Key": key}
    if offset:
        params["Range"] = f"bytes={offset}-"
    body = client.get_object(**params)["Body"]
    try:
        yield from body.iter_chunks(CHUNK_SIZE)
    finally:
        body.close()
