"""HTTP I/O with the figshare API v2: article JSON and resumable, hashed
downloads, with timeouts and retries."""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from typing import Any, Callable

import requests

log = logging.getLogger(__name__)
CHUNK = 1024**2
RETRY_STATUS = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 60.0


class FigshareError(RuntimeError):
    """figshare answered with something we cannot use."""


@dataclasses.dataclass(frozen=True)
class Download:
    path: str
    size: int
    md5: str
    sha256: str
    requests: int


class FigshareClient:
    def __init__(self, api_url: str, max_attempts: int = 5,
                 timeout: float = 30.0, backoff: float = 0.5) -> None:
        self.api_url = api_url.rstrip("/")
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.backoff = backoff
        self.session = requests.Session()

    def _wait(self, attempt: int, response: requests.Response | None) -> None:
        delay = self.backoff * 2 ** attempt
        if response is not None:
            try:
                delay = min(float(response.headers.get("Retry-After", "")),
                            MAX_RETRY_AFTER)
            except ValueError:
                pass
        time.sleep(delay)

    def _get(self, url: str, **kwargs: Any) -> requests.Response:
        """GET with retries on connection errors, 429 and 5xx."""
        last = ""
        for attempt in range(self.max_attempts):
            try:
                response = self.session.get(url, timeout=self.timeout,
                                            **kwargs)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}: {exc}"
                self._wait(attempt, None)
                continue
            if response.status_code in RETRY_STATUS:
                last = f"HTTP {response.status_code}"
                response.close()
                self._wait(attempt, response)
                continue
            if response.status_code >= 400:
                raise FigshareError(f"{url}: HTTP {response.status_code}")
            return response
        raise FigshareError(f"{url}: gave up after {self.max_attempts} "
                            f"attempts ({last})")

    def article(self, article_id: int, version: int) -> dict[str, Any]:
        url = f"{self.api_url}/articles/{article_id}/versions/{version}"
        response = self._get(url)
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
        """Download to `target` through `target`.part, resuming with Range;
        md5 and sha256 in the same pass. The file gets its name only once
        size and md5 match; a mismatch deletes the part and downloads anew,
        `fresh_tries` times in all, then raises."""
        part = os.path.join(os.path.dirname(target),
                            "." + os.path.basename(target)[:200] + ".part")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        md5_hash, sha_hash = hashlib.md5(usedforsecurity=False), \
            hashlib.sha256()
        offset = 0
        if os.path.isfile(part):  # an interrupted run: hash what is there
            with open(part, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    md5_hash.update(chunk)
                    sha_hash.update(chunk)
                    offset += len(chunk)
            if offset > size:
                os.unlink(part)
                return self.download(url, target, size, md5, progress,
                                     fresh_tries)
        count = 0
        for attempt in range(self.max_attempts):
            if offset == size:
                break
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            response = self._get(url, headers=headers, stream=True)
            count += 1
            if offset and response.status_code != 206:
                # no Range support: start over
                offset = 0
                md5_hash, sha_hash = hashlib.md5(usedforsecurity=False), \
                    hashlib.sha256()
            mode = "ab" if offset else "wb"
            try:
                with open(part, mode) as handle:
                    for chunk in response.iter_content(CHUNK):
                        handle.write(chunk)
                        md5_hash.update(chunk)
                        sha_hash.update(chunk)
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
                self._wait(attempt, None)
            finally:
                response.close()
        if offset != size or md5_hash.hexdigest() != md5:
            os.unlink(part)
            if fresh_tries > 1:
                log.warning("%s: size or md5 wrong; downloading again", url)
                return self.download(url, target, size, md5, progress,
                                     fresh_tries - 1)
            raise FigshareError(
                f"{url}: got {offset} of {size} bytes with md5 "
                f"{md5_hash.hexdigest()}, expected {md5}")
        os.replace(part, target)
        return Download(target, size, md5, sha_hash.hexdigest(), count)
