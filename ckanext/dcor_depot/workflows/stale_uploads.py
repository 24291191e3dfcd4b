"""Aborting multipart uploads that nobody will complete."""
from __future__ import annotations

import dataclasses
import datetime
from typing import Iterator

from ..storage import s3
from .circles import circle_buckets

DAY = 24 * 3600


def smallest_safe_age_days(upload_url_expiry: int, job_timeout: int) -> int:
    """The fewest whole days after which an upload can no longer be in
    flight: a client may send parts until its presigned URLs expire, and a
    job may upload until RQ stops it (both in seconds)."""
    return max(upload_url_expiry, job_timeout) // DAY + 1


@dataclasses.dataclass(frozen=True)
class StaleUpload:
    bucket: str
    key: str
    upload_id: str
    initiated: datetime.datetime


def stale_uploads(client, initiated_before: datetime.datetime
                  ) -> Iterator[StaleUpload]:
    """Open multipart uploads in the circle buckets of this site that were
    started before `initiated_before`."""
    for bucket in circle_buckets():
        for upload in s3.multipart_uploads_before(client, bucket,
                                                  initiated_before):
            yield StaleUpload(bucket, upload["Key"], upload["UploadId"],
                              upload["Initiated"])


def abort(client, upload: StaleUpload) -> None:
    s3.abort_multipart_upload(client, upload.bucket, upload.key,
                              upload.upload_id)
