"""Presigned URLs for clients, and streaming an object into a verified
local copy."""
from __future__ import annotations

import logging
import os
import urllib.parse
from typing import Any

from ... import transfer_plan
from .. import digest
from .upload import UploadVerificationError

log = logging.getLogger(__name__)


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


def presigned_download_url(client: Any, bucket: str, key: str,
                           filename: str, expires: int,
                           content_type: str | None = None) -> str:
    """A GET URL for one object that saves it as `filename` (and, given a
    `content_type`, is answered with that type)."""
    params = {"Bucket": bucket, "Key": key,
              "ResponseContentDisposition": content_disposition(filename)}
    if content_type:
        params["ResponseContentType"] = content_type
    return client.generate_presigned_url("get_object", ExpiresIn=expires,
                                         Params=params)


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the UTF-8 name (RFC
    6266), so any resource name survives the header."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_"
                       for c in filename)
    return (f'attachment; filename="{fallback}"; '
            f"filename*=UTF-8''{urllib.parse.quote(filename, safe='')}")


def download_to_temp(client: Any, bucket: str, key: str, target: str,
                     part_sizes: tuple[int, ...] = ()
                     ) -> tuple[str, digest.Digests]:
    """Stream an object into a temporary file beside `target`, fsynced.

    Size, sha256, CRC-32 and the ETag the bytes give are computed in the
    same pass and checked against the object's size and ETag. An object of
    N parts was uploaded in N equal parts (the plan of presigned uploads,
    whose lengths are signed) or with this site's own part size; both
    layouts are checked, in the same pass, and so is any of `part_sizes`
    (the layout a client was given) that gives the object's part count.
    A multipart object of one part has an ETag ending in -1.
    """
    from .. import depot

    response = client.get_object(Bucket=bucket, Key=key)
    size = response["ContentLength"]
    remote_etag = response["ETag"].strip('"')
    multipart = "-" in remote_etag
    parts = int(remote_etag.rsplit("-", 1)[1]) if multipart else 1
    layouts = tuple(dict.fromkeys(part for part in (
        max(1, -(-size // parts)),
        transfer_plan.part_size_for(size, _preferred_part_size()),
        *part_sizes)
        if transfer_plan.part_count(size, part) == parts)) or (size or 1,)
    temp = depot.temp_path(os.path.dirname(target), os.path.basename(target))
    digester = digest.Digester(crc32=True, part_sizes=layouts)
    try:
        with open(temp, "xb") as handle:
            for chunk in response["Body"].iter_chunks(digest.CHUNK_SIZE):
                digester.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        got = digester.result()
        if got.size != size:
            raise UploadVerificationError(
                f"s3://{bucket}/{key}: got {got.size} of {size} bytes")
        etags = {got.etag(part, multipart) for part in layouts}
        if remote_etag not in etags:
            raise UploadVerificationError(
                f"s3://{bucket}/{key}: downloaded bytes give ETag "
                f"{' or '.join(sorted(etags))}, the object has {remote_etag}")
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    return temp, got


def _preferred_part_size() -> int:
    from ... import config as dcor_config

    return dcor_config.s3_part_size()
