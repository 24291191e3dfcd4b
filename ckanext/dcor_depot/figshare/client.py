"""HTTP I/O with the figshare API v2: article JSON and resumable, hashed
downloads, with timeouts, retries and checked addresses."""
from __future__ import annotations

import dataclasses
import functools
import ipaddress
import logging
import os
import socket
import time
import urllib.parse
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

from ..storage import depot
from ..storage.digest import (CHUNK_SIZE, Digester, Digests, digest_file,
                              digest_stream)

log = logging.getLogger(__name__)
RETRY_STATUS = (429, 500, 502, 503, 504)
# figshare (or whatever answers in its place) could ask for a day
MAX_RETRY_AFTER = 60.0
MAX_REDIRECTS = 10

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FigshareError(RuntimeError):
    """figshare answered with something we cannot use."""


@dataclasses.dataclass(frozen=True)
class Download:
    path: str
    size: int
    md5: str
    sha256: str
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


def is_non_public(address: IPAddress) -> bool:
    """True for addresses a download from the internet must not reach:
    loopback, private, link-local (cloud metadata), unspecified, multicast,
    reserved and anything else that is not global."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_private
            or address.is_link_local or address.is_unspecified
            or address.is_multicast or address.is_reserved
            or getattr(address, "is_site_local", False)
            or not address.is_global)


def host_addresses(host: str) -> list[IPAddress]:
    """The addresses of `host`: an IP literal as it is, a name resolved."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    # an IPv6 address can carry a scope ("fe80::1%eth0")
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            for info in infos]


def _reason(exc: BaseException) -> str:
    """Why a request failed, on one line: the urllib3 cause rather than
    the exceptions requests wraps around it."""
    cause: BaseException = exc
    if exc.args and isinstance(exc.args[0], MaxRetryError):
        cause = exc.args[0].reason or exc.args[0]
    return f"{type(cause).__name__}: {' '.join(str(cause).split())}"


class CappedRetry(Retry):
    """urllib3's Retry with Retry-After capped at `retry_after_cap` seconds
    whatever the urllib3 version: urllib3 >= 2.6 caps it at six hours
    (`retry_after_max`), older versions not at all. A Retry-After that does
    not parse means the back-off applies, where urllib3 would raise."""

    def __init__(self, *args: Any, retry_after_cap: float = MAX_RETRY_AFTER,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after_cap = retry_after_cap

    def new(self, **kwargs: Any) -> "CappedRetry":
        # urllib3 makes a new Retry for every attempt from the parameters
        # it knows; carry the cap over
        retry = super().new(**kwargs)
        retry.retry_after_cap = self.retry_after_cap
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:
            return None
        return None if seconds is None else min(seconds, self.retry_after_cap)


class FigshareClient:
    def __init__(self, api_url: str, max_attempts: int = 5,
                 timeout: float = 30.0, backoff: float = 0.5,
                 retry_after_cap: float = MAX_RETRY_AFTER) -> None:
        self.api_url = api_url.rstrip("/")
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.backoff = backoff
        retry = CappedRetry(
            total=max_attempts - 1, backoff_factor=backoff,
            status_forcelist=RETRY_STATUS, allowed_methods={"GET"},
            respect_retry_after_header=True, raise_on_status=False,
            retry_after_cap=retry_after_cap)
        adapter = HTTPAdapter(max_retries=retry)
        self.session = requests.Session()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    @functools.cached_property
    def allows_non_public_hosts(self) -> bool:
        """True if the API itself is on a non-public address (a local
        fixture, the demo): then its files may be, too."""
        host = urllib.parse.urlsplit(self.api_url).hostname or ""
        try:
            return any(map(is_non_public, host_addresses(host)))
        except (OSError, UnicodeError, ValueError):
            return False  # cannot tell: the strict rule

    def check_url(self, url: Any, came_from: str | None = None) -> None:
        """Refuse a URL that a request must not go to: a scheme other than
        http(s), or a host on a non-public address (cloud metadata, the
        site's own services), unless `allows_non_public_hosts`."""
        where = f"{url} (redirected from {came_from})" if came_from \
            else f"{url}"
        if not isinstance(url, str):
            raise FigshareError(f"refusing URL {url!r}: not text")
        try:
            parts = urllib.parse.urlsplit(url)
            host = parts.hostname
        except ValueError as exc:
            raise FigshareError(f"refusing {where}: {exc}") from None
        if parts.scheme.lower() not in ("http", "https"):
            raise FigshareError(f"refusing {where}: not http or https")
        if not host:
            raise FigshareError(f"refusing {where}: no host")
        if self.allows_non_public_hosts:
            return
        try:
            addresses = host_addresses(host)
        except (OSError, UnicodeError, ValueError) as exc:
            raise FigshareError(
                f"{where}: cannot resolve {host} ({exc})") from None
        for address in addresses:
            if is_non_public(address):
                raise FigshareError(f"refusing {where}: {host} is at the "
                                    f"non-public address {address}")

    def _get(self, url: str, headers: dict[str, str] | None = None,
             stream: bool = False) -> requests.Response:
        """GET `url`. Redirects are followed here, not by requests, so that
        every hop is checked (MAX_REDIRECTS at most). The session retries
        connection errors, 429 and 5xx with back-off and Retry-After."""
        hop, came_from = url, None
        for _ in range(MAX_REDIRECTS + 1):
            self.check_url(hop, came_from)
            try:
                response = self.session.get(
                    hop, headers=headers, stream=stream,
                    timeout=self.timeout, allow_redirects=False)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise FigshareError(
                    f"{hop}: gave up after {self.max_attempts} attempts "
                    f"({_reason(exc)})") from None
            except requests.RequestException as exc:
                raise FigshareError(f"{hop}: {_reason(exc)}") from None
            status = response.status_code
            if 300 <= status < 400:
                location = response.headers.get("Location")
                response.close()
                if not location:
                    raise FigshareError(f"{hop}: HTTP {status} without "
                                        f"Location")
                came_from, hop = hop, urllib.parse.urljoin(hop, location)
                continue
            if status in RETRY_STATUS:  # the session's retries ran out
                response.close()
                raise FigshareError(f"{hop}: gave up after "
                                    f"{self.max_attempts} attempts (HTTP "
                                    f"{status})")
            if status >= 400:
                response.close()
                raise FigshareError(f"{hop}: HTTP {status}")
            return response
        raise FigshareError(f"{url}: more than {MAX_REDIRECTS} redirects")

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
            response = self._get(url, headers=headers, stream=True)
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
                    for chunk in response.iter_content(CHUNK_SIZE):
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
        return Download(target, got.size, got.md5, got.sha256, count)

    def _keep_existing(self, target: str, size: int, md5: str,
                       part: str | None, count: int = 0) -> Download:
        try:
            there = existing_file(target, size, md5)
        except FigshareError as exc:
            kept = f"; the download stays at {part}" if part else ""
            raise FigshareError(f"{exc}{kept}") from None
        if part:
            os.unlink(part)
        return Download(target, there.size, there.md5, there.sha256, count)


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
