"""HTTP with figshare: retries with back-off and a capped Retry-After,
and redirects followed by hand so that every hop's address is checked."""
from __future__ import annotations

import functools
import ipaddress
import socket
import urllib.parse
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

RETRY_STATUS = (429, 500, 502, 503, 504)
# figshare (or whatever answers in its place) could ask for a day
MAX_RETRY_AFTER = 60.0
MAX_REDIRECTS = 10

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FigshareError(RuntimeError):
    """figshare answered with something we cannot use."""


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


class CheckedSession:
    """A requests session for figshare's API and the hosts it sends
    downloads to."""


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

    def get(self, url: str, headers: dict[str, str] | None = None,
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

