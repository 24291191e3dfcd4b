"""One file through the presigned URLs of `resource_upload_s3_urls`, in
one pass over it: its sha256 and every part's MD5 are computed from the
bytes as requests sends them, and S3's answer to each PUT (the ETag, the
MD5 of the bytes it stored) must equal the MD5 of the bytes sent, else the
part is sent again. Also: a stored file's sha256 and S3 ETag, computed
locally for a re-run to compare without transferring anything."""
from __future__ import annotations

import hashlib
import logging
import pathlib
import threading
import xml.sax.saxutils
from typing import Any, Callable

import requests

from .api import TIMEOUT
from .errors import UploadFailed, one_line
from .folder import CHUNK
from .progress import Progress

log = logging.getLogger(__name__)

PART_ATTEMPTS = 5


class PartBody:
    """The bytes of one part, read once from the file as requests sends
    them, feeding the file's sha256 and the part's MD5."""

    def __init__(self, path: pathlib.Path, offset: int, length: int,
                 sha256, cancel: threading.Event, progress: Progress):
        self._handle = open(path, "rb")
        self._handle.seek(offset)
        self._left = length
        self.length = length
        self.sha256 = sha256
        self.md5 = hashlib.md5(usedforsecurity=False)
        self._cancel = cancel
        self._progress = progress
        self.sent = 0

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        if self._cancel.is_set():
            raise KeyboardInterrupt
        if size is None or size < 0:
            size = self._left
        chunk = self._handle.read(min(size, self._left, CHUNK))
        if self._left and not chunk:
            raise UploadFailed(f"{self._handle.name} became shorter while "
                               "it was uploaded")
        self._left -= len(chunk)
        self.sha256.update(chunk)
        self.md5.update(chunk)
        self.sent += len(chunk)
        self._progress.add_bytes(len(chunk))
        return chunk

    def close(self) -> None:
        self._handle.close()


class PresignedUpload:
    def __init__(self, session: requests.Session, cancel: threading.Event,
                 on_part_stored: Callable[[int], None]):
        # presigned URLs: no token, no automatic retries (a body that was
        # partly read cannot be replayed; parts are retried here)
        self.s3_session = session
        self.cancel = cancel
        self.on_part_stored = on_part_stored

    def send(self, path: pathlib.Path, size: int, name: str,
             urls: dict[str, Any], progress: Progress) -> str:
        """Send the file; its sha256 (hex), computed from the bytes sent."""
        part_urls = urls["upload_urls"]
        part_size = int(urls["part_size"])
        sha256 = hashlib.sha256()
        etags = []
        for number, url in enumerate(part_urls, start=1):
            offset = (number - 1) * part_size
            length = min(part_size, size - offset)
            if length <= 0:
                raise UploadFailed(f"the site's plan for {name} has "
                                   "more parts than the file")
            before = sha256.copy()
            for attempt in range(1, PART_ATTEMPTS + 1):
                body = PartBody(path, offset, length, before.copy(),
                                self.cancel, progress)
                try:
                    etag = self._put(url, body)
                except (UploadFailed, requests.RequestException) as exc:
                    progress.add_bytes(-body.sent)
                    if attempt == PART_ATTEMPTS:
                        raise UploadFailed(f"part {number} of {name}: "
                                           f"{one_line(exc)}") from None
                    log.warning("part %d of %s failed (attempt %d): %s",
                                number, name, attempt, one_line(exc))
                    continue
                finally:
                    body.close()
                break
            sha256 = body.sha256
            self.on_part_stored(length)
            etags.append(etag)
        if urls.get("complete_url"):
            self._complete(urls["complete_url"], etags)
        return sha256.hexdigest()

    def _put(self, url: str, body: PartBody) -> str:
        response = self.s3_session.put(url, data=body, timeout=TIMEOUT,
                                       headers={"Content-Length":
                                                str(len(body))})
        if response.status_code != 200:
            raise UploadFailed(f"S3 answered HTTP {response.status_code}: "
                               f"{response.text[:200]}")
        etag = response.headers.get("ETag", "").strip('"')
        if etag != body.md5.hexdigest():
            raise UploadFailed(f"S3 stored bytes with MD5 {etag}, "
                               f"{body.md5.hexdigest()} were sent")
        return etag

    def _complete(self, url: str, etags: list[str]) -> None:
        xml_body = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{number}</PartNumber><ETag>"
            f"{xml.sax.saxutils.escape(etag)}</ETag></Part>"
            for number, etag in enumerate(etags, start=1)) + \
            "</CompleteMultipartUpload>"
        response = self.s3_session.post(url, data=xml_body.encode(),
                                        timeout=TIMEOUT)
        # S3 may answer 200 with an error in the body
        if response.status_code != 200 or "<Error>" in response.text:
            raise UploadFailed(f"completing the multipart upload failed: "
                               f"HTTP {response.status_code} "
                               f"{response.text[:200]}")


def stored_digests(path: pathlib.Path, etag: str) -> tuple[str, str]:
    """sha256 and the S3 ETag of a file in one pass; the ETag with the part
    layout the stored ETag shows (`{md5}-{parts}`: equal parts, the last
    one shorter, as resource_upload_s3_urls plans them)."""
    size = path.stat().st_size
    parts = int(etag.rsplit("-", 1)[1]) if "-" in etag else 1
    part_size = max(1, -(-size // parts))
    sha256 = hashlib.sha256()
    md5s = []
    with open(path, "rb") as handle:
        for _ in range(parts):
            md5 = hashlib.md5(usedforsecurity=False)
            left = part_size
            while left and (chunk := handle.read(min(CHUNK, left))):
                sha256.update(chunk)
                md5.update(chunk)
                left -= len(chunk)
            md5s.append(md5)
    if parts == 1:
        return sha256.hexdigest(), md5s[0].hexdigest()
    joined = hashlib.md5(b"".join(m.digest() for m in md5s),
                         usedforsecurity=False)
    return sha256.hexdigest(), f"{joined.hexdigest()}-{parts}"
