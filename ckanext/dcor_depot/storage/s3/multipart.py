"""Multipart uploads that a client sends part by part: start one, sign a
part, list the parts S3 holds, complete and abort it."""
from __future__ import annotations

from typing import Any

import botocore.exceptions

from .client import error_code

NO_UPLOAD_CODES = ("NoSuchUpload", "404", "NoSuchKey")


class NoSuchUpload(LookupError):
    """S3 holds no open multipart upload with that id (completed or
    aborted)."""


def _reraise(exc: botocore.exceptions.ClientError) -> None:
    if error_code(exc) in NO_UPLOAD_CODES:
        raise NoSuchUpload(str(exc)) from None
    raise exc


def start_upload(client: Any, bucket: str, key: str) -> str:
    """Start a multipart upload; its upload id."""
    return client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]


def presigned_part_url(client: Any, bucket: str, key: str, upload_id: str,
                       number: int, size: int, content_md5: str,
                       expires: int) -> str:
    """A PUT URL for one part that signs its length and its Content-MD5
    (base64), so S3 refuses any other bytes."""
    return client.generate_presigned_url(
        "upload_part", ExpiresIn=expires, Params={
            "Bucket": bucket, "Key": key, "UploadId": upload_id,
            "PartNumber": number, "ContentLength": size,
            "ContentMD5": content_md5})


def uploaded_parts(client: Any, bucket: str, key: str,
                   upload_id: str) -> list[dict[str, Any]]:
    """The parts S3 holds, in order: {part_number, etag, size}."""
    parts = []
    try:
        for page in client.get_paginator("list_parts").paginate(
                Bucket=bucket, Key=key, UploadId=upload_id):
            parts.extend({"part_number": part["PartNumber"],
                          "etag": part["ETag"].strip('"'),
                          "size": part["Size"]}
                         for part in page.get("Parts", []))
    except botocore.exceptions.ClientError as exc:
        _reraise(exc)
    return parts


def complete_upload(client: Any, bucket: str, key: str, upload_id: str,
                    parts: list[dict[str, Any]]) -> None:
    """Complete an upload from parts as `uploaded_parts` lists them."""
    try:
        client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [
                {"PartNumber": part["part_number"],
                 "ETag": f'"{part["etag"]}"'} for part in parts]})
    except botocore.exceptions.ClientError as exc:
        _reraise(exc)


def abort_upload(client: Any, bucket: str, key: str, upload_id: str
                 ) -> bool:
    """Abort an upload; False if S3 holds none with that id."""
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key,
                                      UploadId=upload_id)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in NO_UPLOAD_CODES:
            return False
        raise
    return True
