"""figshare's API v2: article JSON and resumable, hashed downloads (the
HTTP layer, with retries and checked addresses, is in http.py)."""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from typing import Any, Callable

import requests

from ..storage import depot
from ..storage.digest import Digester, Digests, digest_file, digest_stream
from .http import CheckedSession, FigshareError

__all__ = ["FigshareClient", "FigshareError", "Download", "existing_file"]

log = logging.getLogger(__name__)
# bytes written per read from the network: a broken download resumes from
# the last whole one
NETWORK_CHUNK = 1024**2


@dataclasses.dataclass(frozen=True)
class Download:
    path: str
    size: int
    md5: str
    sha256: str
    crc32: int
    requests: int


def _new_digester() -> Digester:
    # md5 to check against figshare, sha256 and CRC-32 for the resource
    return Digester(md5=True, crc32=True)


def _fsync(path: str, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FigshareClient(CheckedSession):
    """figshare's API v2: articles, and resumable hashed downloads."""

    def article(self, article_id: int, version: int) -> dict[str, Any]:
        url = f"{self.api_url}/articles/{article_id}/versions/{version}"
        response = self.get(url)
        try:
            data = response.json()
        except ValueError:
            raise FigshareError(f"{url}: not JSON") from None
        if not isinstance(data, dict):
            raise FigshareError(f"{url}: not an article object")
        return data

    def download(self, url: str, target: str, size: int, md5: str,
                 progress: Callable[[int], None] | None = None,
                 fresh_tries: int = 2) -> Download:
        """Download `url` to `target` and return its size and hashes.

        The bytes go to the partial file `depot.resumable_temp_path(target)`
        first; one left by an earlier run, even a killed one, is hashed and
        resumed with Range. md5 and sha256 are computed as the bytes
        arrive. The file gets its name only once size and md5 match, by a
        hard link that fails if something is at `target` by then: nothing
        is ever replaced, and a file there with other bytes is an error. A
        wrong size or md5 deletes the partial file and downloads anew,
        `fresh_tries` times in all; a download that stops short keeps it
        for the next run.
        """
        if os.path.lexists(target):
            return self._keep_existing(target, size, md5, None)
        self.check_url(url)  # before anything is made on disk
        part = depot.resumable_temp_path(target)
        got, count = Digests(0, ""), 0
        for _ in range(fresh_tries):
            got, made = self._fill(url, part, size, progress)
            count += made
            if (got.size, got.md5) == (size, md5):
                return self._place(part, target, got, count)
            os.unlink(part)
            log.warning("%s: got %d bytes with md5 %s, expected %d with %s",
                        url, got.size, got.md5, size, md5)
        raise FigshareError(f"{url}: got {got.size} of {size} bytes with md5 "
                            f"{got.md5}, expected {md5}")

    def _fill(self, url: str, part: str, size: int,
              progress: Callable[[int], None] | None) -> tuple[Digests, int]:
        """Bring `part` to `size` bytes (or past it, if the server sends
        more) and return what it holds and how many requests that took."""
        digester = _new_digester()
        if os.path.isfile(part):  # an earlier run's bytes: hash, resume
            with open(part, "rb") as handle:
                digest_stream(handle, digester)
            if digester.size > size:
                os.unlink(part)
                digester = _new_digester()
        offset = digester.size
        count = 0
        for attempt in range(self.max_attempts):
            if offset >= size:
                break
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            response = self.get(url, headers=headers, stream=True)
            count += 1
            if offset and not _resumes_at(response, offset):
                offset = 0  # not the rest of the file: start over
                digester = _new_digester()
                if response.status_code != 200:  # some other range
                    response.close()
                    continue
            os.makedirs(os.path.dirname(part), exist_ok=True)
            try:
                with open(part, "ab" if offset else "wb") as handle:
                    for chunk in response.iter_content(NETWORK_CHUNK):
                        handle.write(chunk)
                        digester.update(chunk)
                        offset += len(chunk)
                        if progress:
                            progress(len(chunk))
                        if offset > size:
                            break
                    handle.flush()
                    os.fsync(handle.fileno())
            except requests.RequestException as exc:
                log.warning("download of %s broke at %d bytes (%s); "
                            "resuming", url, offset, exc)
                time.sleep(self.backoff * 2 ** attempt)
            finally:
                response.close()
        if size == 0 and not os.path.isfile(part):
            # nothing to fetch, but the file is placed like any other
            os.makedirs(os.path.dirname(part), exist_ok=True)
            open(part, "wb").close()
        if offset < size:
            raise FigshareError(
                f"{url}: stopped at {offset} of {size} bytes after {count} "
                f"requests; the next run resumes from there")
        return digester.result(), count

    def _place(self, part: str, target: str, got: Digests,
               count: int) -> Download:
        # an earlier run's bytes may never have been synced
        _fsync(part)
        try:
            os.link(part, target)  # unlike rename, never replaces a file
        except FileExistsError:
            return self._keep_existing(target, got.size, got.md5, part,
                                       count)
        os.unlink(part)
        _fsync(os.path.dirname(target), directory=True)
        return Download(target, got.size, got.md5, got.sha256, got.crc32,
                        count)

    def _keep_existing(self, target: str, size: int, md5: str,
                       part: str | None, count: int = 0) -> Download:
        try:
            there = existing_file(target, size, md5)
        except FigshareError as exc:
            kept = f"; the download stays at {part}" if part else ""
            raise FigshareError(f"{exc}{kept}") from None
        if part:
            os.unlink(part)
        return Download(target, there.size, there.md5, there.sha256,
                        there.crc32, count)


def existing_file(target: str, size: int, md5: str) -> Digests:
    """Digests of the file already at `target` (an earlier run, another
    importer) if it holds figshare's bytes, checked by size and md5 in one
    read; FigshareError if not. Such a file is never replaced."""
    if os.path.islink(target) or not os.path.isfile(target):
        raise FigshareError(f"{target} exists and is not a regular file; "
                            f"not replaced")
    there = digest_file(target, md5=True, crc32=True)
    if (there.size, there.md5) != (size, md5):
        raise FigshareError(
            f"{target} exists with other bytes (size {there.size}, md5 "
            f"{there.md5}) than figshare's (size {size}, md5 {md5}); not "
            f"replaced")
    return there


def _resumes_at(response: requests.Response, offset: int) -> bool:
    """True if `response` is the part of the file from byte `offset`."""
    if response.status_code != 206:
        return False
    content_range = response.headers.get("Content-Range", "")
    unit, _, spec = content_range.partition(" ")
    start = spec.split("-", 1)[0]
    return unit == "bytes" and start.isdigit() and int(start) == offset
